#include "scheduler/batch_tensors.h"

#include <cstring>

#include "device/device_tensors.h"

namespace tandem {
namespace {

// Byte offset of each element boundary of a BYTES tensor: element i starts at offsets[i].
std::vector<size_t> BytesOffsets(const Tensor& t) {
  std::vector<size_t> offsets = {0};
  for (std::string_view s : t.Strings()) offsets.push_back(offsets.back() + 4 + s.size());
  return offsets;
}

}  // namespace

StatusOr<Tensor> ConcatBatch(const std::vector<const Tensor*>& parts) {
  if (parts.empty()) return Internal("an empty batch");
  if (parts.size() == 1) return *parts[0];
  const Tensor& first = *parts[0];
  for (const Tensor* p : parts) {
    if (p->device().kind() == Device::Kind::kCuda) return ConcatOnDevice(parts);
  }
  std::vector<int64_t> dims = first.shape().dims();
  size_t bytes = 0;
  dims[0] = 0;
  for (const Tensor* p : parts) {
    dims[0] += p->shape()[0];
    bytes += p->byte_size();
  }
  auto storage = std::make_shared<std::vector<uint8_t>>(bytes);
  size_t offset = 0;
  for (const Tensor* p : parts) {
    if (p->byte_size() > 0) std::memcpy(storage->data() + offset, p->data(), p->byte_size());
    offset += p->byte_size();
  }
  const uint8_t* data = storage->data();
  // The merged batch is where its parts are when they agree (simulated devices), else on the host.
  Device device = first.device();
  for (const Tensor* p : parts) {
    if (p->device() != device) device = Device::Cpu();
  }
  return Tensor::View(first.dtype(), Shape(std::move(dims)), data, bytes, std::move(storage),
                      device);
}

StatusOr<std::vector<Tensor>> SplitBatch(const Tensor& batch, const std::vector<int64_t>& sizes) {
  std::vector<Tensor> pieces;
  if (sizes.size() == 1 && batch.shape().rank() > 0 && batch.shape()[0] == sizes[0]) {
    pieces.push_back(batch);
    return pieces;
  }
  int64_t rows = 0;
  for (int64_t s : sizes) rows += s;
  if (batch.shape().rank() == 0 || batch.shape()[0] != rows) {
    return Internal("an output has shape " + batch.shape().ToString() + " but the batch has " +
                    std::to_string(rows) + " rows");
  }
  ASSIGN_OR_RETURN(int64_t count, batch.shape().NumElements());
  const int64_t per_row = rows == 0 ? 0 : count / rows;
  std::vector<size_t> bytes_offsets;
  if (batch.dtype() == DataType::kBytes) bytes_offsets = BytesOffsets(batch);
  int64_t row = 0;
  for (int64_t s : sizes) {
    std::vector<int64_t> dims = batch.shape().dims();
    dims[0] = s;
    size_t begin, end;
    if (batch.dtype() == DataType::kBytes) {
      begin = bytes_offsets[row * per_row];
      end = bytes_offsets[(row + s) * per_row];
    } else {
      const size_t row_bytes = per_row * DataTypeSize(batch.dtype());
      begin = row * row_bytes;
      end = (row + s) * row_bytes;
    }
    ASSIGN_OR_RETURN(Tensor piece,
                     Tensor::View(batch.dtype(), Shape(std::move(dims)), batch.data() + begin,
                                  end - begin, batch.owner(), batch.device()));
    pieces.push_back(std::move(piece));
    row += s;
  }
  return pieces;
}

}  // namespace tandem
