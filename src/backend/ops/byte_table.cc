#include "backend/ops/byte_table.h"

#include <ATen/Parallel.h>

#include <cstring>

namespace tandem {
namespace {

// Elements one parallel task handles at least: below this, splitting costs more than it gains.
constexpr int64_t kGrain = int64_t{1} << 16;

// The table's elements as raw words of their size: a lookup copies bits, whatever the dtype.
template <typename Word>
void CopyLookUp(const Word* table, const uint8_t* bytes, Word* out, int64_t count,
                int64_t bytes_stride) {
  at::parallel_for(0, count, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = table[bytes[i * bytes_stride]];
  });
}

// out[i] = table[bytes[i × bytes_stride]] for `count` elements of the table's element size.
void LookUpRaw(const at::Tensor& table, const uint8_t* bytes, int64_t bytes_stride, void* out,
               int64_t count) {
  const void* t = table.const_data_ptr();
  switch (table.element_size()) {
    case 1:
      return CopyLookUp(static_cast<const uint8_t*>(t), bytes, static_cast<uint8_t*>(out), count,
                        bytes_stride);
    case 2:
      return CopyLookUp(static_cast<const uint16_t*>(t), bytes, static_cast<uint16_t*>(out), count,
                        bytes_stride);
    case 4:
      return CopyLookUp(static_cast<const uint32_t*>(t), bytes, static_cast<uint32_t*>(out), count,
                        bytes_stride);
    case 8:
      return CopyLookUp(static_cast<const uint64_t*>(t), bytes, static_cast<uint64_t*>(out), count,
                        bytes_stride);
    default: {  // complex types
      const size_t size = table.element_size();
      for (int64_t i = 0; i < count; ++i) {
        std::memcpy(static_cast<char*>(out) + i * size,
                    static_cast<const char*>(t) + bytes[i * bytes_stride] * size, size);
      }
    }
  }
}

}  // namespace

at::Tensor ByteTable(const std::function<at::Tensor(const at::Tensor&)>& f) {
  return f(at::arange(256, at::kInt).to(at::kByte)).contiguous();
}

at::Tensor DeviceTable::On(c10::Device device) const {
  if (device.is_cpu()) return host_;
  std::lock_guard lock(mu_);
  for (const auto& [on, copy] : copies_) {
    if (on == device) return copy;
  }
  return copies_.emplace_back(device, host_.to(device)).second;
}

at::Tensor LookUp(const at::Tensor& table, const at::Tensor& bytes) {
  if (!bytes.device().is_cpu()) {
    return table.index_select(0, bytes.flatten().to(at::kInt)).view_as(bytes);
  }
  const at::Tensor source = bytes.contiguous();
  const at::Tensor values = table.contiguous();
  at::Tensor out = at::empty(bytes.sizes(), values.options());
  LookUpRaw(values, source.const_data_ptr<uint8_t>(), 1, out.mutable_data_ptr(), source.numel());
  return out;
}

at::Tensor LookUpPlanes(const at::Tensor& tables, const at::Tensor& image) {
  const int64_t channels = image.size(2);
  if (!image.device().is_cpu()) {
    // Row c of the flattened tables starts at c × 256.
    at::Tensor offsets = at::arange(channels, image.options().dtype(at::kLong)).mul_(256);
    at::Tensor index = image.permute({2, 0, 1}).to(at::kLong).add_(offsets.view({channels, 1, 1}));
    return at::take(tables.flatten(), index);
  }
  const at::Tensor source = image.contiguous();
  const at::Tensor values = tables.contiguous();
  const int64_t plane = image.size(0) * image.size(1);
  at::Tensor out = at::empty({channels, image.size(0), image.size(1)}, values.options());
  const uint8_t* bytes = source.const_data_ptr<uint8_t>();
  char* target = static_cast<char*>(out.mutable_data_ptr());
  for (int64_t c = 0; c < channels; ++c) {
    LookUpRaw(values[c], bytes + c, channels, target + c * plane * values.element_size(), plane);
  }
  return out;
}

}  // namespace tandem
