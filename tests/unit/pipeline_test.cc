#include <gtest/gtest.h>

#include "backend/backend_registry.h"
#include "config/model_config.h"
#include "config/pipeline_config.h"
#include "pipeline/pipeline_validation.h"

namespace tandem {
namespace {

PipelineConfig Parse(const std::string& yaml, ConfigProblems& problems) {
  return ParsePipelineConfig(yaml, "p", "p/pipeline.yaml", problems);
}

std::string AllProblems(const ConfigProblems& problems) { return problems.ToStatus().message(); }

void ExpectProblem(const ConfigProblems& problems, const std::string& text) {
  EXPECT_NE(AllProblems(problems).find(text), std::string::npos)
      << "expected: " << text << "\ngot: " << AllProblems(problems);
}

constexpr const char* kTwoSteps = R"(
placement: free
inputs: [{name: image, datatype: FP32, shape: [-1, 3, 8, 8]}]
outputs: [{name: alpha, datatype: FP32, shape: [-1, 1, 8, 8]}]
steps:
  - {name: matte, model: matting, inputs: {rgb: image, mask: trimap}, outputs: {alpha: alpha}}
  - {name: segment, model: segmenter, inputs: {x: image}, outputs: {mask: trimap},
     params: {size: [320, 320], values: {1: 128, 2: 255}, mode: fast}}
)";

TEST(PipelineConfigTest, ParsesAndOrdersStepsByDependency) {
  ConfigProblems problems;
  PipelineConfig p = Parse(kTwoSteps, problems);
  ASSERT_TRUE(problems.empty()) << AllProblems(problems);
  EXPECT_EQ(p.placement, Placement::kFree);
  ASSERT_EQ(p.steps.size(), 2u);
  EXPECT_EQ(p.steps[0].name, "segment");  // produces trimap, which matte reads
  EXPECT_EQ(p.steps[1].name, "matte");
  const StepParam& size = p.steps[0].params.at("size");
  EXPECT_EQ(size.kind, StepParam::Kind::kList);
  EXPECT_EQ(size.list, (std::vector<std::string>{"320", "320"}));
  EXPECT_EQ(p.steps[0].params.at("values").map.size(), 2u);
  EXPECT_EQ(p.steps[0].params.at("mode").scalar, "fast");
}

TEST(PipelineConfigTest, DefaultsToAffinity) {
  ConfigProblems problems;
  PipelineConfig p = Parse(R"(
inputs: [{name: x, datatype: FP32, shape: [1]}]
outputs: [{name: y, datatype: FP32, shape: [1]}]
steps: [{name: s, model: m, inputs: {a: x}, outputs: {b: y}}]
)",
                           problems);
  ASSERT_TRUE(problems.empty()) << AllProblems(problems);
  EXPECT_EQ(p.placement, Placement::kAffinity);
}

TEST(PipelineConfigTest, ReportsGraphProblemsByStepAndTensor) {
  ConfigProblems problems;
  Parse(R"(
placement: sideways
inputs: [{name: x, datatype: FP32, shape: [1]}]
outputs: [{name: y, datatype: FP32, shape: [1]}, {name: z, datatype: FP32, shape: [1]}]
steps:
  - {name: a, model: m, inputs: {in: b_out}, outputs: {out: a_out}}
  - {name: b, model: m, inputs: {in: a_out}, outputs: {out: b_out}}
  - {name: c, model: m, op: argmax, inputs: {in: missing}, outputs: {out: y}}
  - {name: c, model: m, inputs: {in: x}, outputs: {out: x}}
)",
        problems);
  ExpectProblem(problems, "p/pipeline.yaml: placement: 'sideways' is not affinity or free");
  ExpectProblem(problems, "steps[c]: needs exactly one of 'model'");
  ExpectProblem(problems, "steps[c].name: another step is also named 'c'");
  ExpectProblem(problems,
                "steps[c].outputs.out: tensor 'x' is already produced by the pipeline's inputs");
  ExpectProblem(problems, "steps[c].inputs.in: reads tensor 'missing', which no step");
  ExpectProblem(problems, "outputs[z]: no step produces the pipeline output 'z'");
  ExpectProblem(problems, "steps: the steps a, b depend on each other in a cycle");
}

TEST(PipelineConfigTest, RequiresStepsAndMaps) {
  ConfigProblems problems;
  Parse(R"(
inputs: [{name: x, datatype: FP32, shape: [1]}]
outputs: [{name: y, datatype: FP32, shape: [1]}]
steps: [{name: s, model: m, inputs: [x], outputs: {}}]
)",
        problems);
  ExpectProblem(problems, "steps[s].inputs: must be a non-empty map");
  ExpectProblem(problems, "steps[s].outputs: must be a non-empty map");
  ConfigProblems none;
  Parse(
      "inputs: [{name: x, datatype: FP32, shape: [1]}]\n"
      "outputs: [{name: y, datatype: FP32, shape: [1]}]\n",
      none);
  ExpectProblem(none, "steps: must be a non-empty list");
}

ModelSource Model(const std::string& yaml, const std::string& name) {
  ConfigProblems problems;
  ModelSource source;
  source.config = ParseModelConfig(yaml, name, name + "/model.yaml", problems, AllBackendRules());
  EXPECT_TRUE(problems.empty()) << AllProblems(problems);
  source.versions = {1};
  return source;
}

RepositoryScan TwoModelRepository(const std::string& pipeline_yaml) {
  RepositoryScan scan;
  scan.models.push_back(Model(R"(
backend: torchscript
max_batch_size: 4
inputs: [{name: x, datatype: FP32, shape: [3, 8, 8]}]
outputs: [{name: mask, datatype: FP32, shape: [1, 8, 8]}]
)",
                              "segmenter"));
  scan.models.push_back(Model(R"(
backend: torchscript
max_batch_size: 4
inputs: [{name: rgb, datatype: FP32, shape: [3, 8, 8]}, {name: mask, datatype: FP32, shape: [1, -1, -1]}]
outputs: [{name: alpha, datatype: FP32, shape: [1, 8, 8]}]
)",
                              "matting"));
  PipelineSource pipeline;
  pipeline.file = "p/pipeline.yaml";
  pipeline.config = Parse(pipeline_yaml, scan.problems);
  EXPECT_TRUE(scan.problems.empty()) << AllProblems(scan.problems);
  scan.pipelines.push_back(std::move(pipeline));
  return scan;
}

TEST(PipelineValidationTest, AcceptsMatchingModels) {
  RepositoryScan scan = TwoModelRepository(kTwoSteps);
  ValidatePipelines(scan);
  EXPECT_TRUE(scan.problems.empty()) << AllProblems(scan.problems);
  EXPECT_EQ(scan.pipelines.size(), 1u);
}

TEST(PipelineValidationTest, NamesStepTensorAndBothSidesOfAConflict) {
  RepositoryScan scan = TwoModelRepository(R"(
inputs: [{name: image, datatype: FP64, shape: [-1, 3, 8, 8]}]
outputs: [{name: alpha, datatype: UINT8, shape: [-1, 1, 8, 8]}]
steps:
  - {name: segment, model: segmenter, inputs: {x: image}, outputs: {mask: trimap, logits: l}}
  - {name: matte, model: matting, inputs: {rgb: image2, mask: trimap}, outputs: {alpha: alpha}}
  - {name: decode, op: image.decode, inputs: {bytes: image}, outputs: {image: image2}}
  - {name: extra, model: nonexistent, inputs: {a: image}, outputs: {b: unused}}
  - {name: mystery, op: image.sharpen, inputs: {a: image}, outputs: {b: unused2}}
)");
  ValidatePipelines(scan);
  EXPECT_TRUE(scan.pipelines.empty());
  ExpectProblem(scan.problems,
                "p/pipeline.yaml: steps[segment].inputs.x: tensor 'image' is FP64 [-1, 3, 8, 8] "
                "from pipeline input but input 'x' of model 'segmenter' takes FP32 [-1, 3, 8, 8]");
  ExpectProblem(scan.problems,
                "steps[segment].outputs.logits: model 'segmenter' has no output "
                "'logits' (it returns mask)");
  ExpectProblem(scan.problems,
                "steps[decode]: op 'image.decode': image.decode takes one BYTES "
                "element (shape [1]), not FP64 [-1, 3, 8, 8]");
  ExpectProblem(scan.problems, "steps[extra].model: unknown model 'nonexistent'");
  ExpectProblem(scan.problems, "steps[mystery].op: unknown op 'image.sharpen'");
  ExpectProblem(scan.problems,
                "outputs[alpha]: declared UINT8 [-1, 1, 8, 8] but it is FP32 "
                "[-1, 1, 8, 8] from output 'alpha' of model 'matting'");
}

TEST(PipelineValidationTest, OpsDeriveTheirOutputsAndCheckTheirParams) {
  RepositoryScan scan = TwoModelRepository(R"(
inputs: [{name: image, datatype: FP32, shape: [-1, 3, 8, 8]}]
outputs: [{name: levels, datatype: UINT8, shape: [-1, 8, 8]}]
steps:
  - {name: segment, model: segmenter, inputs: {x: image}, outputs: {mask: logits}}
  - {name: pick, op: argmax, inputs: {input: logits}, outputs: {indices: classes},
     params: {dim: 1}}
  - {name: map, op: map_values, inputs: {input: classes}, outputs: {output: levels},
     params: {values: {1: 128}}}
)");
  ValidatePipelines(scan);
  ASSERT_TRUE(scan.problems.empty()) << AllProblems(scan.problems);
  const ModelConfig& pick = scan.pipelines[0].op_configs.at("pick");
  EXPECT_EQ(pick.outputs[0].dtype, DataType::kInt64);
  EXPECT_EQ(pick.outputs[0].shape, Shape({-1, 8, 8}));

  RepositoryScan bad = TwoModelRepository(R"(
inputs: [{name: image, datatype: FP32, shape: [-1, 3, 8, 8]}]
outputs: [{name: out, datatype: UINT8, shape: [-1, 3, 8, 8]}]
steps:
  - {name: far, op: argmax, inputs: {input: image}, outputs: {indices: i}, params: {dim: 7}}
  - {name: floats, op: map_values, inputs: {input: image}, outputs: {output: out},
     params: {values: {1: 2}}}
  - {name: typo, op: argmax, inputs: {input: image}, outputs: {indices: j}, params: {axis: 1}}
  - {name: huge, op: map_values, inputs: {input: i}, outputs: {output: k},
     params: {values: {1: 300}}}
)");
  ValidatePipelines(bad);
  ExpectProblem(bad.problems, "steps[far]: op 'argmax': params.dim 7 is outside shape");
  ExpectProblem(bad.problems,
                "steps[floats]: op 'map_values': map_values takes integers, not FP32");
  ExpectProblem(bad.problems, "steps[typo].op: params.axis is not a parameter of this op");
  ExpectProblem(bad.problems, "steps[huge].op: params.values.1 must map an integer to 0..255");
}

// The ops that build a matting input: argmax keeping its dim, cast, concat, and preprocess at
// the image's own size.
TEST(PipelineValidationTest, CastConcatAndKeepdimDeriveTheirOutputs) {
  RepositoryScan scan = TwoModelRepository(R"(
inputs: [{name: rgb, datatype: UINT8, shape: [-1, -1, 3]}, {name: x, datatype: FP32, shape: [-1, 3, 8, 8]}]
outputs: [{name: joined, datatype: FP32, shape: [1, 4, -1, -1]}]
steps:
  - {name: segment, model: segmenter, inputs: {x: x}, outputs: {mask: logits}}
  - {name: pick, op: argmax, inputs: {input: logits}, outputs: {indices: classes},
     params: {keepdim: true}}
  - {name: norm, op: image.preprocess, inputs: {image: rgb}, outputs: {tensor: normalised}}
  - {name: levels, op: map_values, inputs: {input: classes}, outputs: {output: small},
     params: {values: {1: 128}}}
  - {name: grow, op: image.resize_to, inputs: {image: small, like: rgb}, outputs: {image: trimap},
     params: {mode: bicubic}}
  - {name: scale, op: cast, inputs: {input: trimap}, outputs: {output: t},
     params: {dtype: FP32, scale: 1/255}}
  - {name: join, op: concat, inputs: {input0: normalised, input1: t}, outputs: {output: joined}}
)");
  ValidatePipelines(scan);
  ASSERT_TRUE(scan.problems.empty()) << AllProblems(scan.problems);
  const auto& ops = scan.pipelines[0].op_configs;
  EXPECT_EQ(ops.at("pick").outputs[0].shape, Shape({-1, 1, 8, 8}));
  EXPECT_EQ(ops.at("norm").outputs[0].shape, Shape({1, 3, -1, -1}));
  EXPECT_EQ(ops.at("scale").outputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(ops.at("scale").outputs[0].shape, Shape({-1, 1, -1, -1}));
  EXPECT_EQ(ops.at("join").outputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(ops.at("join").outputs[0].shape, Shape({1, 4, -1, -1}));
}

TEST(PipelineValidationTest, CastConcatAndResizeParamsAreChecked) {
  RepositoryScan bad = TwoModelRepository(R"(
inputs: [{name: a, datatype: FP32, shape: [1, 3, 8, 8]}, {name: b, datatype: UINT8, shape: [1, 1, 8, 8]},
         {name: c, datatype: FP32, shape: [1, 1, 9, 8]}, {name: rgb, datatype: UINT8, shape: [-1, -1, 3]}]
outputs: [{name: out, datatype: FP32, shape: [1, 4, 8, 8]}]
steps:
  - {name: mixed, op: concat, inputs: {input0: a, input1: b}, outputs: {output: o1}}
  - {name: misfit, op: concat, inputs: {input0: a, input1: c}, outputs: {output: o2}}
  - {name: gap, op: concat, inputs: {input0: a, input2: c}, outputs: {output: o3}}
  - {name: alone, op: concat, inputs: {input0: a}, outputs: {output: o4}}
  - {name: notype, op: cast, inputs: {input: a}, outputs: {output: o5}}
  - {name: words, op: cast, inputs: {input: a}, outputs: {output: o6}, params: {dtype: BYTES}}
  - {name: badscale, op: cast, inputs: {input: a}, outputs: {output: o7},
     params: {dtype: FP16, scale: 1/0}}
  - {name: blur, op: image.resize_to, inputs: {image: b, like: rgb}, outputs: {image: o8},
     params: {mode: gaussian}}
  - {name: prep, op: image.preprocess, inputs: {image: rgb}, outputs: {tensor: o9},
     params: {resample: cubic, channel_order: rgb}}
  - {name: order, op: image.preprocess, inputs: {image: rgb}, outputs: {tensor: o10},
     params: {channel_order: gbr}}
  - {name: keep, op: argmax, inputs: {input: a}, outputs: {indices: o11}, params: {keepdim: 1}}
  - {name: level, op: image.encode_png, inputs: {image: b}, outputs: {png: o12},
     params: {compress_level: 10}}
  - {name: filter, op: image.encode_png, inputs: {image: b}, outputs: {png: o13},
     params: {filter: best}}
  - {name: out, op: concat, inputs: {input0: a, input1: a}, outputs: {output: out}}
)");
  ValidatePipelines(bad);
  ExpectProblem(bad.problems,
                "steps[mixed]: op 'concat': input1 is UINT8 but input0 is FP32 (cast one of them "
                "first)");
  ExpectProblem(bad.problems,
                "steps[misfit]: op 'concat': input1 [1, 1, 9, 8] does not fit input0 "
                "[1, 3, 8, 8] along dims other than 1");
  ExpectProblem(bad.problems, "steps[gap].inputs: does not feed input 'input1' of op 'concat'");
  ExpectProblem(bad.problems, "steps[alone].op: concat takes two or more inputs");
  ExpectProblem(bad.problems, "steps[notype].op: params.dtype is required");
  ExpectProblem(bad.problems, "steps[words].op: params.dtype must be a numeric v2 type");
  ExpectProblem(bad.problems, "steps[badscale].op: params.scale must be a number");
  ExpectProblem(bad.problems,
                "steps[blur].op: params.mode must be one of nearest, box, bilinear, hamming, "
                "bicubic, lanczos (Pillow's filters), not 'gaussian'");
  ExpectProblem(bad.problems, "steps[prep].op: params.resample must be one of");
  ExpectProblem(bad.problems, "steps[order].op: params.channel_order must be rgb or bgr");
  ExpectProblem(bad.problems, "steps[keep].op: params.keepdim must be true or false");
  ExpectProblem(bad.problems,
                "steps[level].op: params.compress_level must be 0 (none) to 9 (smallest), not 10");
  ExpectProblem(bad.problems,
                "steps[filter].op: params.filter must be one of none, sub, up, average, paeth, "
                "adaptive, not 'best'");
  ExpectProblem(bad.problems,
                "outputs[out]: declared FP32 [1, 4, 8, 8] but it is FP32 [1, 6, 8, 8]");
}

TEST(PipelineValidationTest, UnfedModelInputsAreReported) {
  RepositoryScan scan = TwoModelRepository(R"(
inputs: [{name: image, datatype: FP32, shape: [-1, 3, 8, 8]}]
outputs: [{name: alpha, datatype: FP32, shape: [-1, 1, 8, 8]}]
steps:
  - {name: matte, model: matting, inputs: {rgb: image}, outputs: {alpha: alpha}}
)");
  ValidatePipelines(scan);
  ExpectProblem(scan.problems,
                "steps[matte].inputs: does not feed input 'mask' of model 'matting'");
}

}  // namespace
}  // namespace tandem
