#include <gtest/gtest.h>

#include <cstring>

#include "server/json_util.h"
#include "server/npy_codec.h"
#include "server/v2_codec.h"

namespace tandem {
namespace {

std::shared_ptr<const std::string> Body(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

StatusOr<DecodedRequest> Decode(const std::string& json) {
  return DecodeInferRequest(Body(json), std::nullopt);
}

// Expects decoding to fail with INVALID_ARGUMENT and a message containing `text`.
void ExpectRejected(const StatusOr<DecodedRequest>& result, const std::string& text) {
  ASSERT_FALSE(result.ok()) << "expected an error mentioning: " << text;
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find(text), std::string::npos) << result.status().message();
}

TEST(V2DecodeTest, FlatAndNestedDataAreRowMajor) {
  for (const char* data : {"[1,2,3,4,5,6]", "[[1,2,3],[4,5,6]]"}) {
    auto r =
        Decode(std::string(
                   R"({"id":"r1","inputs":[{"name":"x","datatype":"INT32","shape":[2,3],"data":)") +
               data + "}]}");
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->request.id, "r1");
    const Tensor& t = r->request.inputs[0].tensor;
    EXPECT_EQ(t.shape(), Shape({2, 3}));
    auto v = t.Values<int32_t>();
    EXPECT_EQ(std::vector<int32_t>(v.begin(), v.end()), (std::vector<int32_t>{1, 2, 3, 4, 5, 6}));
  }
}

TEST(V2DecodeTest, EveryJsonDatatype) {
  auto r = Decode(R"({"inputs":[
    {"name":"b","datatype":"BOOL","shape":[2],"data":[true,false]},
    {"name":"u","datatype":"UINT64","shape":[1],"data":[18446744073709551615]},
    {"name":"i","datatype":"INT8","shape":[2],"data":[-128,127]},
    {"name":"f","datatype":"FP64","shape":[1],"data":[0.5]},
    {"name":"s","datatype":"BYTES","shape":[2],"data":["ab",""]}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto& in = r->request.inputs;
  EXPECT_EQ(in[0].tensor.bytes()[0], 1);
  EXPECT_EQ(in[1].tensor.Values<uint64_t>()[0], UINT64_MAX);
  EXPECT_EQ(in[2].tensor.Values<int8_t>()[0], -128);
  EXPECT_EQ(in[3].tensor.Values<double>()[0], 0.5);
  EXPECT_EQ(in[4].tensor.Strings()[0], "ab");
}

TEST(V2DecodeTest, BinaryInputsAreViewsOfTheBody) {
  const std::string json =
      R"({"inputs":[{"name":"a","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}},)"
      R"({"name":"b","datatype":"UINT8","shape":[3],"parameters":{"binary_data_size":3}}],)"
      R"("outputs":[{"name":"y","parameters":{"binary_data":true}}]})";
  std::string body = json;
  const float floats[2] = {1.5f, -2.0f};
  body.append(reinterpret_cast<const char*>(floats), 8);
  body.append("\x01\x02\x03", 3);
  auto owner = Body(body);
  auto r = DecodeInferRequest(owner, json.size());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->request.inputs[0].tensor.Values<float>()[1], -2.0f);
  EXPECT_EQ(r->request.inputs[1].tensor.bytes()[2], 3);
  EXPECT_EQ(r->request.requested_outputs, (std::vector<std::string>{"y"}));
  EXPECT_TRUE(r->encoding.IsBinary("y"));
  EXPECT_FALSE(r->encoding.IsBinary("z"));
}

TEST(V2DecodeTest, HostileInputsAreRefused) {
  ExpectRejected(Decode(""), "empty");
  ExpectRejected(Decode("{not json"), "malformed JSON");
  ExpectRejected(Decode("[1]"), "JSON object");
  ExpectRejected(Decode("{}"), "'inputs' is required");
  ExpectRejected(Decode(R"({"inputs":[{"datatype":"FP32","shape":[1],"data":[1]}]})"), "no 'name'");
  ExpectRejected(Decode(R"({"inputs":[{"name":"x","datatype":"FLOAT","shape":[1],"data":[1]}]})"),
                 "unknown datatype 'FLOAT'");
  ExpectRejected(Decode(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1]}]})"),
                 "needs 2 elements but data holds 1");
  ExpectRejected(Decode(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[-3],"data":[1]}]})"),
                 "sizes are integers of 0 or more");
  ExpectRejected(
      Decode(
          R"({"inputs":[{"name":"x","datatype":"FP32","shape":[4294967296,4294967296],"data":[1]}]})"),
      "64 bits");
  ExpectRejected(Decode(R"({"inputs":[{"name":"x","datatype":"FP16","shape":[1],"data":[1]}]})"),
                 "binary data extension");
  ExpectRejected(Decode(R"({"inputs":[{"name":"x","datatype":"UINT8","shape":[1],"data":[300]}]})"),
                 "not a UINT8 value");
  ExpectRejected(Decode(R"({"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":["1"]}]})"),
                 "the string \"1\"");
  ExpectRejected(Decode(R"({"inputs":[{"name":"x","datatype":"BOOL","shape":[1],"data":[1]}]})"),
                 "not true or false");
  ExpectRejected(Decode(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1]}]})"),
                 "needs 'data' or parameters.binary_data_size");
  ExpectRejected(Decode(R"({"parameters":{"timeout":"soon"},"inputs":[]})"), "timeout");
}

TEST(V2DecodeTest, DeepNestingIsRefusedNotOverflowed) {
  std::string deep = R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":)" +
                     std::string(100000, '[') + "1" + std::string(100000, ']') + "}]}";
  ExpectRejected(Decode(deep), "nests deeper than 64");
}

TEST(V2DecodeTest, BinarySizesThatOverrunTheBodyAreRefused) {
  const std::string json =
      R"({"inputs":[{"name":"a","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":800}}]})";
  ExpectRejected(DecodeInferRequest(Body(json + "12345678"), json.size()), "overruns the body");
  ExpectRejected(DecodeInferRequest(Body(json), json.size() + 10),
                 "Inference-Header-Content-Length");
  const std::string ok_json =
      R"({"inputs":[{"name":"a","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}}]})";
  ExpectRejected(DecodeInferRequest(Body(ok_json + "12345678extra"), ok_json.size()),
                 "no input claims them");
  ExpectRejected(DecodeInferRequest(Body(ok_json + "1234"), ok_json.size()), "overruns");
}

TEST(V2DecodeTest, BinaryBytesElementsThatOverrunAreRefused) {
  const std::string json =
      R"({"inputs":[{"name":"s","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":6}}]})";
  ExpectRejected(DecodeInferRequest(Body(json + std::string("\xff\x00\x00\x00zz", 6)), json.size()),
                 "claims 255 bytes");
}

TEST(V2DecodeTest, RawBodyFillsOneInputWithAtMostOneFreeDimension) {
  ModelConfig config;
  config.name = "m";
  config.max_batch_size = 4;
  config.inputs = {{"x", DataType::kFp32, Shape({2})}};
  auto r = DecodeRawInferRequest(Body(std::string(8, '\0')), config);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->request.inputs[0].tensor.shape(), Shape({1, 2}));
  EXPECT_TRUE(r->encoding.binary_by_default);
  EXPECT_FALSE(DecodeRawInferRequest(Body(std::string(7, '\0')), config).ok());
  // One dimension of any size is the one the body's size gives, as Triton infers it.
  config.inputs[0].shape = Shape({-1, 3});
  auto free = DecodeRawInferRequest(Body(std::string(24, '\0')), config);
  ASSERT_TRUE(free.ok()) << free.status().message();
  EXPECT_EQ(free->request.inputs[0].tensor.shape(), Shape({1, 2, 3}));
  ExpectRejected(DecodeRawInferRequest(Body(std::string(20, '\0')), config), "do not divide");
  config.inputs[0].shape = Shape({-1, -1});
  ExpectRejected(DecodeRawInferRequest(Body(std::string(8, '\0')), config),
                 "more than one dimension of any size");
  config.inputs[0] = {"s", DataType::kBytes, Shape({-1})};
  ExpectRejected(DecodeRawInferRequest(Body(std::string(8, '\0')), config), "BYTES");
}

TEST(V2EncodeTest, JsonAndBinaryOutputs) {
  InferResponse response;
  response.model = "m";
  response.version = "2";
  response.id = "abc";
  auto floats = *Tensor::Allocate(DataType::kFp32, Shape({2}));
  reinterpret_cast<float*>(floats.mutable_data())[0] = 0.1f;
  reinterpret_cast<float*>(floats.mutable_data())[1] = -3.0f;
  auto half = *Tensor::Allocate(DataType::kFp16, Shape({1}));
  response.outputs = {{"y", floats}, {"h", half}, {"s", *Tensor::FromStrings(Shape({1}), {"q\""})}};

  EncodedResponse json = EncodeInferResponse(response, OutputEncoding{});
  // FP16 has no JSON form, so it travels as binary even when JSON was asked for.
  ASSERT_TRUE(json.json_length.has_value());
  EXPECT_EQ(json.body.size(), *json.json_length + 2);
  const std::string header = json.body.substr(0, *json.json_length);
  EXPECT_NE(header.find(R"("model_name":"m","model_version":"2","id":"abc")"), std::string::npos);
  EXPECT_NE(header.find(R"("name":"y","datatype":"FP32","shape":[2],"data":[0.1,-3])"),
            std::string::npos)
      << header;
  EXPECT_NE(header.find(
                R"("name":"h","datatype":"FP16","shape":[1],"parameters":{"binary_data_size":2})"),
            std::string::npos);
  EXPECT_NE(header.find(R"("data":["q\""])"), std::string::npos) << header;

  OutputEncoding binary;
  binary.binary_by_default = true;
  EncodedResponse bin = EncodeInferResponse(response, binary);
  ASSERT_TRUE(bin.json_length.has_value());
  float back[2];
  std::memcpy(back, bin.body.data() + *bin.json_length, 8);
  EXPECT_EQ(back[0], 0.1f);
  EXPECT_EQ(back[1], -3.0f);
}

TEST(JsonTest, ErrorBodiesAreEscaped) {
  EXPECT_EQ(ErrorJson("bad \"x\"\n"), R"({"error":"bad \"x\"\n"})");
}

std::string NpyOf(const std::string& descr, const std::string& shape, const std::string& data,
                  bool fortran = false) {
  std::string header = "{'descr': '" + descr +
                       "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size());
  out += '\0';
  return out + header + data;
}

TEST(NpyTest, RoundTrips) {
  auto t = *Tensor::Allocate(DataType::kInt16, Shape({2, 3}));
  for (int i = 0; i < 6; ++i) reinterpret_cast<int16_t*>(t.mutable_data())[i] = i * 100;
  auto npy = EncodeNpy(t);
  ASSERT_TRUE(npy.ok());
  EXPECT_EQ((npy->size() - t.byte_size()) % 64, 0u);
  auto back = DecodeNpy(Body(*npy));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->dtype(), DataType::kInt16);
  EXPECT_EQ(back->shape(), Shape({2, 3}));
  EXPECT_EQ(back->Values<int16_t>()[5], 500);
}

TEST(NpyTest, ReadsWhatNumpyWrites) {
  auto one_d = DecodeNpy(Body(NpyOf("<f4", "(2,)", std::string(8, '\0'))));
  ASSERT_TRUE(one_d.ok()) << one_d.status().message();
  EXPECT_EQ(one_d->shape(), Shape({2}));
  auto scalar = DecodeNpy(Body(NpyOf("|b1", "()", std::string(1, '\1'))));
  ASSERT_TRUE(scalar.ok()) << scalar.status().message();
  EXPECT_EQ(scalar->shape(), Shape({}));
}

TEST(NpyTest, RefusesWhatItCannotRead) {
  auto expect = [](const std::string& body, const std::string& text) {
    auto r = DecodeNpy(Body(body));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find(text), std::string::npos) << r.status().message();
  };
  expect("hello", "not an .npy file");
  expect(NpyOf(">f4", "(1,)", std::string(4, '\0')), "big-endian");
  expect(NpyOf("<U3", "(1,)", std::string(12, '\0')), "not supported");
  expect(NpyOf("<f4", "(2, 2)", std::string(16, '\0'), true), "Fortran order");
  expect(NpyOf("<f4", "(3,)", std::string(8, '\0')), "needs 12 bytes");
  expect(NpyOf("<f4", "(4294967296, 4294967296)", ""), "64 bits");
  std::string truncated = NpyOf("<f4", "(1,)", "");
  truncated[8] = '\xff';
  expect(truncated, "runs past the end");
}

}  // namespace
}  // namespace tandem

namespace tandem {
namespace {

TEST(V2EncodeTest, BytesThatAreNotTextTravelAsBinary) {
  InferResponse response;
  response.model = "m";
  response.outputs = {{"text", *Tensor::FromStrings(Shape({2}), {"héllo", "ok"})},
                      {"png", *Tensor::FromStrings(Shape({1}), {std::string("\x89PNG\r\n", 6)})},
                      {"cut", *Tensor::FromStrings(Shape({1}), {std::string("\xc3", 1)})}};
  EncodedResponse encoded = EncodeInferResponse(response, OutputEncoding{});
  ASSERT_TRUE(encoded.json_length.has_value());
  const std::string header = encoded.body.substr(0, *encoded.json_length);
  EXPECT_NE(header.find(R"("data":["héllo","ok"])"), std::string::npos) << header;
  EXPECT_NE(header.find(R"("name":"png","datatype":"BYTES","shape":[1],"parameters")"),
            std::string::npos)
      << header;
  EXPECT_NE(header.find(R"("name":"cut","datatype":"BYTES","shape":[1],"parameters")"),
            std::string::npos)
      << header;
}

}  // namespace
}  // namespace tandem
