// Loss bindings (the multiclass hinge loss): checks, then the core with the GIL released.
#include <string>

#include "bindings/common.hpp"
#include "ops/margin_loss.hpp"

namespace fastbp::bind {

namespace {

py::tuple multi_margin_loss_binding(py::handle scores_obj, py::handle labels_obj, int p,
                                    double margin, const std::string& reduction) {
  FloatArg scores = float_arg(scores_obj, "scores");
  require_ndim(scores, 2, "(N, C)");
  const std::int64_t N = scores.shape[0], C = scores.shape[1];
  if (p != 1 && p != 2) throw py::value_error("p must be 1 or 2, got " + std::to_string(p));
  if (reduction != "mean" && reduction != "sum")
    throw py::value_error("reduction must be 'mean' or 'sum', got '" + reduction + "'");
  IndexArg labels = index_arg(labels_obj, "labels");
  if (labels.shape.size() != 1 || labels.shape[0] != N)
    throw py::value_error("labels must have shape " + shape_str({N}) + " to match scores " +
                          shape_str(scores.shape) + ", got " + shape_str(labels.shape));
  if (N == 0) throw py::value_error("multi_margin_loss: empty batch (N = 0)");
  if (C == 0) throw py::value_error("multi_margin_loss: scores have no classes (C = 0)");
  const std::int64_t* lab = labels.data();
  for (std::int64_t i = 0; i < N; ++i)
    if (lab[i] < 0 || lab[i] >= C)
      throw py::value_error("labels[" + std::to_string(i) + "] = " + std::to_string(lab[i]) +
                            " is outside [0, " + std::to_string(C) + ")");
  const double scale = reduction == "mean" ? 1.0 / static_cast<double>(N) : 1.0;
  Tensor dscores(scores.shape, scores.dtype);
  double loss = dispatch_dtype(scores.dtype, [&](auto tag) -> double {
    using T = decltype(tag);
    py::gil_scoped_release release;
    return multi_margin_loss<T>(dscores.data_as<T>(), scores.data<T>(), lab, N, C, p,
                                static_cast<T>(margin), scale);
  });
  return py::make_tuple(loss, to_numpy(std::move(dscores)));
}

}  // namespace

void bind_losses(py::module_& m) {
  m.def("multi_margin_loss", &multi_margin_loss_binding, py::arg("scores"), py::arg("labels"),
        py::kw_only(), py::arg("p") = 1, py::arg("margin") = 1.0, py::arg("reduction") = "mean",
        "(loss, dscores) of the multiclass hinge loss (PyTorch's MultiMarginLoss).");
}

}  // namespace fastbp::bind
