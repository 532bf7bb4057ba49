// Optimizer update bindings (filled in by the layers/optimizer work).
#include "bindings/common.hpp"

namespace fastbp::bind {

void bind_optim(py::module_& /*m*/) {}

}  // namespace fastbp::bind
