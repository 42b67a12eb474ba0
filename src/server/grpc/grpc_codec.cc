#include "server/grpc/grpc_codec.h"

namespace tandem {
namespace {

using inference::InferTensorContents;

// The typed contents field that holds `dtype`'s elements, and how many it holds.
int64_t TypedCount(const InferTensorContents& c, DataType dtype) {
  switch (dtype) {
    case DataType::kBool:
      return c.bool_contents_size();
    case DataType::kInt8:
    case DataType::kInt16:
    case DataType::kInt32:
      return c.int_contents_size();
    case DataType::kInt64:
      return c.int64_contents_size();
    case DataType::kUint8:
    case DataType::kUint16:
    case DataType::kUint32:
      return c.uint_contents_size();
    case DataType::kUint64:
      return c.uint64_contents_size();
    case DataType::kFp32:
      return c.fp32_contents_size();
    case DataType::kFp64:
      return c.fp64_contents_size();
    case DataType::kBytes:
      return c.bytes_contents_size();
    default:
      return -1;  // FP16, BF16: no typed form
  }
}

// Copies typed contents `from` (of the contents' own element type) into a tensor of T.
template <typename T, typename Repeated>
void Fill(Tensor& tensor, const Repeated& from) {
  T* out = reinterpret_cast<T*>(tensor.mutable_data());
  for (int i = 0; i < from.size(); ++i) out[i] = static_cast<T>(from[i]);
}

StatusOr<Tensor> TypedTensor(const InferTensorContents& c, DataType dtype, const Shape& shape,
                             int64_t count, const std::string& where) {
  const int64_t given = TypedCount(c, dtype);
  if (given < 0) {
    return InvalidArgument(where + ": " + std::string(DataTypeName(dtype)) +
                           " has no typed contents; send it in raw_input_contents");
  }
  if (given != count) {
    return InvalidArgument(where + ": shape " + shape.ToString() + " needs " +
                           std::to_string(count) + " elements but its contents hold " +
                           std::to_string(given));
  }
  if (dtype == DataType::kBytes) {
    std::vector<std::string> elements(c.bytes_contents().begin(), c.bytes_contents().end());
    return Tensor::FromStrings(shape, elements);
  }
  ASSIGN_OR_RETURN(Tensor tensor, Tensor::Allocate(dtype, shape));
  switch (dtype) {
    case DataType::kBool:
      Fill<bool>(tensor, c.bool_contents());
      break;
    case DataType::kInt8:
      Fill<int8_t>(tensor, c.int_contents());
      break;
    case DataType::kInt16:
      Fill<int16_t>(tensor, c.int_contents());
      break;
    case DataType::kInt32:
      Fill<int32_t>(tensor, c.int_contents());
      break;
    case DataType::kInt64:
      Fill<int64_t>(tensor, c.int64_contents());
      break;
    case DataType::kUint8:
      Fill<uint8_t>(tensor, c.uint_contents());
      break;
    case DataType::kUint16:
      Fill<uint16_t>(tensor, c.uint_contents());
      break;
    case DataType::kUint32:
      Fill<uint32_t>(tensor, c.uint_contents());
      break;
    case DataType::kUint64:
      Fill<uint64_t>(tensor, c.uint64_contents());
      break;
    case DataType::kFp32:
      Fill<float>(tensor, c.fp32_contents());
      break;
    case DataType::kFp64:
      Fill<double>(tensor, c.fp64_contents());
      break;
    default:
      break;
  }
  return tensor;
}

}  // namespace

StatusOr<InferRequest> DecodeInferRequest(
    std::shared_ptr<const inference::ModelInferRequest> message) {
  const inference::ModelInferRequest& m = *message;
  InferRequest request;
  request.model = m.model_name();
  request.version = m.model_version();
  request.id = m.id();
  if (auto it = m.parameters().find("timeout"); it != m.parameters().end()) {
    const inference::InferParameter& timeout = it->second;
    if (timeout.parameter_choice_case() != inference::InferParameter::kInt64Param ||
        timeout.int64_param() < 0) {
      return InvalidArgument("parameters.timeout must be an int64 number of microseconds >= 0");
    }
    // 0 is "no timeout", as Triton's clients send it (the model's default then applies).
    if (timeout.int64_param() > 0)
      request.timeout = std::chrono::microseconds(timeout.int64_param());
  }
  const bool raw = m.raw_input_contents_size() > 0;
  if (raw && m.raw_input_contents_size() != m.inputs_size()) {
    return InvalidArgument("raw_input_contents holds " +
                           std::to_string(m.raw_input_contents_size()) + " tensors for " +
                           std::to_string(m.inputs_size()) + " inputs; give one for each");
  }
  for (int i = 0; i < m.inputs_size(); ++i) {
    const inference::ModelInferRequest::InferInputTensor& input = m.inputs(i);
    const std::string where = "input '" + input.name() + "'";
    auto dtype = ParseDataType(input.datatype());
    if (!dtype) {
      return InvalidArgument(where + ": unknown datatype '" + input.datatype() +
                             "' (expected one of " + std::string(DataTypeNames()) + ")");
    }
    if (static_cast<size_t>(input.shape_size()) > Shape::kMaxRank) {
      return InvalidArgument(where + ": shape has " + std::to_string(input.shape_size()) +
                             " dimensions; at most " + std::to_string(Shape::kMaxRank) +
                             " are allowed");
    }
    Shape shape(std::vector<int64_t>(input.shape().begin(), input.shape().end()));
    auto count = shape.NumElements();
    if (!count.ok()) return count.status().WithContext(where);
    Tensor tensor;
    if (raw) {
      if (input.has_contents()) {
        return InvalidArgument(where + ": has both contents and raw_input_contents");
      }
      const std::string& bytes = m.raw_input_contents(i);
      auto t = Tensor::AlignedView(*dtype, shape, bytes.data(), bytes.size(), message);
      if (!t.ok()) return t.status().WithContext(where);
      tensor = std::move(*t);
    } else {
      ASSIGN_OR_RETURN(tensor, TypedTensor(input.contents(), *dtype, shape, *count, where));
    }
    request.inputs.push_back({input.name(), std::move(tensor)});
  }
  for (const auto& output : m.outputs()) request.requested_outputs.push_back(output.name());
  return request;
}

void EncodeInferResponse(const InferResponse& response, inference::ModelInferResponse& message) {
  message.set_model_name(response.model);
  message.set_model_version(response.version);
  message.set_id(response.id);
  for (const NamedTensor& output : response.outputs) {
    inference::ModelInferResponse::InferOutputTensor* out = message.add_outputs();
    out->set_name(output.name);
    out->set_datatype(std::string(DataTypeName(output.tensor.dtype())));
    for (int64_t d : output.tensor.shape().dims()) out->add_shape(d);
    message.add_raw_output_contents(reinterpret_cast<const char*>(output.tensor.data()),
                                    output.tensor.byte_size());
  }
}

grpc::Status GrpcStatus(const Status& status) {
  using grpc::StatusCode;
  StatusCode code = StatusCode::INTERNAL;
  switch (status.code()) {
    case tandem::StatusCode::kOk:
      return grpc::Status::OK;
    case tandem::StatusCode::kInvalidArgument:
      code = StatusCode::INVALID_ARGUMENT;
      break;
    case tandem::StatusCode::kNotFound:
      code = StatusCode::NOT_FOUND;
      break;
    case tandem::StatusCode::kAlreadyExists:
      code = StatusCode::ALREADY_EXISTS;
      break;
    case tandem::StatusCode::kPayloadTooLarge:
    case tandem::StatusCode::kResourceExhausted:
      code = StatusCode::RESOURCE_EXHAUSTED;
      break;
    case tandem::StatusCode::kUnimplemented:
      code = StatusCode::UNIMPLEMENTED;
      break;
    case tandem::StatusCode::kUnavailable:
      code = StatusCode::UNAVAILABLE;
      break;
    case tandem::StatusCode::kDeadlineExceeded:
      code = StatusCode::DEADLINE_EXCEEDED;
      break;
    case tandem::StatusCode::kInternal:
      code = StatusCode::INTERNAL;
      break;
  }
  return grpc::Status(code, status.message());
}

}  // namespace tandem
