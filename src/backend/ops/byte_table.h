// Elementwise functions of 8-bit tensors as 256-entry tables. A UINT8 element takes only 256
// values, so f(x) for every x is computed once, by the same ATen code that would compute it on
// the whole tensor (so with the same bits), and each element is then looked up: one read and
// one write instead of a pass over the tensor for each operation in f. Internal to backend/ops/.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace tandem {

// f applied to the UINT8 tensor [0, 1, …, 255] (shape [256]), contiguous. f must be elementwise
// (it may broadcast, [256] -> [C, 256] say): entry [..., v] is then f's value for the byte v.
at::Tensor ByteTable(const std::function<at::Tensor(const at::Tensor&)>& f);

// A host table and its copies on the devices it has been used on, each made once, so that a
// lookup on a GPU reads the table there instead of copying it over with every call.
// Thread-safe: the instances of a step, on every device, share one.
class DeviceTable {
 public:
  explicit DeviceTable(at::Tensor host) : host_(std::move(host)) {}

  // The table on `device`: the host table itself on the CPU, else its copy there, made (by a
  // blocking copy, complete before any stream reads it) on first use.
  at::Tensor On(c10::Device device) const;

 private:
  const at::Tensor host_;
  mutable std::mutex mu_;
  mutable std::vector<std::pair<c10::Device, at::Tensor>> copies_;  // guarded by mu_
};

// table[bytes]: `table` [256] of any dtype, `bytes` UINT8 of any shape, on the same device;
// the result has the table's dtype and the bytes' shape.
at::Tensor LookUp(const at::Tensor& table, const at::Tensor& bytes);

// Per channel, into planes: `image` UINT8 [H, W, C], `tables` [C, 256] -> [C, H, W] with
// out[c, y, x] = tables[c, image[y, x, c]] (the HWC -> CHW permutation in the same pass).
at::Tensor LookUpPlanes(const at::Tensor& tables, const at::Tensor& image);

}  // namespace tandem
