// What bounds the server's memory and inflates its bodies: the request-memory budget, gzip and
// deflate with their limit, Accept-Encoding, and the gRPC infer decoder's checks.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "server/content_encoding.h"
#include "server/grpc/grpc_codec.h"
#include "server/request_memory.h"

namespace tandem {
namespace {

TEST(RequestMemoryTest, HoldsWithinTheLimitAndReleasesWithTheBody) {
  RequestMemory budget(1 << 20);
  auto a = budget.TryHold(600 << 10);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(budget.TryHold(600 << 10), nullptr);  // would pass the limit
  EXPECT_EQ(budget.refused(), 1u);
  // Small bodies are counted but never refused.
  auto small = budget.TryHold(RequestMemory::kAlwaysAdmitted);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(budget.held(), (600u << 10) + RequestMemory::kAlwaysAdmitted);
  // A growing (chunked) body is refused once it would pass.
  auto growing = budget.TryHold(0);
  ASSERT_NE(growing, nullptr);
  EXPECT_TRUE(growing->Resize(100 << 10));
  EXPECT_FALSE(growing->Resize(500 << 10));
  EXPECT_EQ(growing->bytes(), 100u << 10);
  growing.reset();
  small.reset();
  {
    std::shared_ptr<const std::string> body = RequestMemory::Owning("abc", std::move(a));
    std::shared_ptr<const std::string> view = body;  // a tensor viewing the body
    body.reset();
    EXPECT_EQ(budget.held(), 600u << 10);
    EXPECT_EQ(*view, "abc");
  }
  EXPECT_EQ(budget.held(), 0u);
  EXPECT_NE(budget.RefusalMessage(5).find("--max-inflight-bytes 1048576"), std::string::npos);
}

TEST(RequestMemoryTest, InputsCopiedOutOfABodyJoinItsHold) {
  RequestMemory budget(1 << 20);
  auto hold = budget.TryHold(100 << 10);
  ASSERT_NE(hold, nullptr);
  RequestMemory::Hold& held = *hold;
  std::shared_ptr<const std::string> body =
      RequestMemory::Owning(std::string(100 << 10, '\0'), std::move(hold));
  auto view = Tensor::View(DataType::kUint8, Shape({100 << 10}), body->data(), body->size(), body);
  auto copy = Tensor::Allocate(DataType::kFp32, Shape({50 << 10}));  // 200 KiB, as from JSON
  ASSERT_TRUE(view.ok() && copy.ok());
  // The view is the body's bytes, already held; the copy is held besides.
  ASSERT_TRUE(held.AddCopies(body.get(), {{"a", *view}, {"b", *copy}}).ok());
  EXPECT_EQ(budget.held(), 300u << 10);
  // Copies that would pass the limit refuse the request, naming the budget; nothing is added.
  auto large = Tensor::Allocate(DataType::kFp32, Shape({200 << 10}));  // 800 KiB
  ASSERT_TRUE(large.ok());
  Status refused = held.AddCopies(body.get(), {{"c", *large}});
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.message().find("--max-inflight-bytes"), std::string::npos);
  // The message counts the request once: its 1100 KiB, beside no other request's bytes.
  EXPECT_NE(refused.message().find("holds 0 bytes of other requests, and this one's 1126400 "),
            std::string::npos)
      << refused.message();
  EXPECT_EQ(budget.held(), 300u << 10);
  body.reset();
  view = Tensor();  // the last view of the body: the copies' bytes go with the body's
  EXPECT_EQ(budget.held(), 0u);
}

TEST(ContentEncodingTest, RoundTripsWithinTheLimit) {
  const std::string text(100000, 'x');
  for (ContentEncoding e : {ContentEncoding::kGzip, ContentEncoding::kDeflate}) {
    const std::string packed = Compress(e, text);
    EXPECT_LT(packed.size(), 1000u);
    auto back = Decompress(e, packed, text.size());
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(*back, text);
    auto over = Decompress(e, packed, text.size() - 1);
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.status().code(), StatusCode::kPayloadTooLarge);
    auto cut = Decompress(e, packed.substr(0, packed.size() - 4), text.size());
    EXPECT_EQ(cut.status().code(), StatusCode::kInvalidArgument);
    auto trailing = Decompress(e, packed + "junk", text.size());
    EXPECT_EQ(trailing.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(Decompress(ContentEncoding::kGzip, "not gzip", 100).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ContentEncodingTest, NamesAndPreferences) {
  EXPECT_EQ(*ParseContentEncoding(""), ContentEncoding::kIdentity);
  EXPECT_EQ(*ParseContentEncoding("GZIP"), ContentEncoding::kGzip);
  EXPECT_EQ(*ParseContentEncoding("deflate"), ContentEncoding::kDeflate);
  EXPECT_EQ(ParseContentEncoding("br").status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(ParseContentEncoding("gzip, deflate").status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(PreferredEncoding(""), ContentEncoding::kIdentity);
  EXPECT_EQ(PreferredEncoding("deflate, gzip;q=0.5"), ContentEncoding::kGzip);
  EXPECT_EQ(PreferredEncoding("gzip;q=0, deflate"), ContentEncoding::kDeflate);
  EXPECT_EQ(PreferredEncoding("br"), ContentEncoding::kIdentity);
  EXPECT_EQ(PreferredEncoding("*"), ContentEncoding::kGzip);
}

std::shared_ptr<inference::ModelInferRequest> Message() {
  auto m = std::make_shared<inference::ModelInferRequest>();
  m->set_model_name("m");
  m->set_id("7");
  return m;
}

// Adds input `x` of `datatype` and `shape` to `m`.
inference::ModelInferRequest::InferInputTensor* AddInput(inference::ModelInferRequest& m,
                                                         const std::string& datatype,
                                                         std::initializer_list<int64_t> shape) {
  auto* x = m.add_inputs();
  x->set_name("x");
  x->set_datatype(datatype);
  for (int64_t d : shape) x->add_shape(d);
  return x;
}

TEST(GrpcDecodeTest, TypedContentsNarrowAndCountsMustMatch) {
  auto m = Message();
  auto* x = AddInput(*m, "INT16", {1, 3});
  x->mutable_contents()->add_int_contents(-2);
  x->mutable_contents()->add_int_contents(300);
  x->mutable_contents()->add_int_contents(7);
  m->add_outputs()->set_name("y");
  (*m->mutable_parameters())["timeout"].set_int64_param(0);
  auto r = DecodeInferRequest(m);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->id, "7");
  EXPECT_FALSE(r->timeout.has_value());  // 0: none
  EXPECT_EQ(r->requested_outputs, std::vector<std::string>{"y"});
  EXPECT_EQ(std::vector<int16_t>(r->inputs[0].tensor.Values<int16_t>().begin(),
                                 r->inputs[0].tensor.Values<int16_t>().end()),
            (std::vector<int16_t>{-2, 300, 7}));
  x->add_shape(2);  // [1, 3, 2]: six elements, three given
  auto short_contents = DecodeInferRequest(m);
  ASSERT_FALSE(short_contents.ok());
  EXPECT_NE(short_contents.status().message().find("needs 6 elements"), std::string::npos);
}

TEST(GrpcDecodeTest, RawContentsAreViewsAndOnePerInput) {
  auto m = Message();
  auto* x = AddInput(*m, "FP32", {2});
  const float values[2] = {1.5f, -4.0f};
  m->add_raw_input_contents(std::string(reinterpret_cast<const char*>(values), sizeof(values)));
  (*m->mutable_parameters())["timeout"].set_int64_param(250);
  auto r = DecodeInferRequest(m);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->timeout, std::chrono::microseconds(250));
  EXPECT_EQ(r->inputs[0].tensor.Values<float>()[1], -4.0f);
  EXPECT_EQ(r->inputs[0].tensor.owner().get(), static_cast<const void*>(m.get()));
  m->add_raw_input_contents("extra");
  EXPECT_FALSE(DecodeInferRequest(m).ok());
  m->mutable_raw_input_contents()->RemoveLast();
  x->set_datatype("FP99");
  auto unknown = DecodeInferRequest(m);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown datatype 'FP99'"), std::string::npos);
  (*m->mutable_parameters())["timeout"].set_string_param("soon");
  EXPECT_FALSE(DecodeInferRequest(m).ok());
}

TEST(GrpcStatusTest, EachCodeHasItsGrpcCode) {
  EXPECT_EQ(GrpcStatus(InvalidArgument("x")).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GrpcStatus(NotFound("x")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GrpcStatus(Unavailable("x")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(GrpcStatus(ResourceExhausted("x")).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(GrpcStatus(Status(StatusCode::kDeadlineExceeded, "x")).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(GrpcStatus(Internal("boom")).error_message(), "boom");
  EXPECT_TRUE(GrpcStatus(Status::Ok()).ok());
}

}  // namespace
}  // namespace tandem
