// Convolution and pooling bindings (filled in by the convolution work).
#include "bindings/common.hpp"

namespace fastbp::bind {

void bind_conv(py::module_& /*m*/) {}

}  // namespace fastbp::bind
