#include "config/yaml_fields.h"

#include <charconv>
#include <set>

namespace tandem {

bool LoadYamlMap(std::string_view yaml, const std::string& file, std::string_view expected,
                 ConfigProblems& problems, YAML::Node& root) {
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    problems.Add(file, "",
                 "not valid YAML: " + e.msg + " at line " + std::to_string(e.mark.line + 1) +
                     ", column " + std::to_string(e.mark.column + 1));
    return false;
  }
  if (!root.IsMap()) {
    problems.Add(file, "", "must be a YAML map of settings " + std::string(expected));
    return false;
  }
  return true;
}

void YamlFields::Problem(const std::string& key, std::string message) const {
  problems_.Add(file_, key, std::move(message));
}

void YamlFields::CheckKeys(const YAML::Node& map, const std::string& at,
                           std::initializer_list<std::string_view> allowed) const {
  for (const auto& kv : map) {
    const std::string key = kv.first.Scalar();
    bool known = false;
    std::string expected;
    for (std::string_view a : allowed) {
      known |= (a == key);
      expected += (expected.empty() ? "" : ", ") + std::string(a);
    }
    if (!known) Problem(Join(at, key), "unknown key (expected one of: " + expected + ")");
  }
}

std::optional<int64_t> YamlFields::ToInt(const YAML::Node& node, const std::string& key) const {
  if (!node.IsScalar()) {
    Problem(key, "must be an integer");
    return std::nullopt;
  }
  const std::string& s = node.Scalar();
  int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) {
    Problem(key, "'" + s + "' is not an integer");
    return std::nullopt;
  }
  return value;
}

std::string YamlFields::RequiredString(const YAML::Node& map, const std::string& at,
                                       const std::string& key) const {
  const YAML::Node node = map[key];
  if (!node || node.IsNull()) {
    Problem(Join(at, key), "is required");
    return "";
  }
  if (!node.IsScalar() || node.Scalar().empty()) {
    Problem(Join(at, key), "must be a non-empty string");
    return "";
  }
  return node.Scalar();
}

int64_t YamlFields::OptionalInt(const YAML::Node& map, const std::string& at,
                                const std::string& key, int64_t fallback, int64_t min) const {
  const YAML::Node node = map[key];
  if (!node) return fallback;
  auto value = ToInt(node, Join(at, key));
  if (!value) return fallback;
  if (*value < min) {
    Problem(Join(at, key),
            "must be at least " + std::to_string(min) + ", got " + std::to_string(*value));
    return fallback;
  }
  return *value;
}

bool YamlFields::OptionalBool(const YAML::Node& map, const std::string& at, const std::string& key,
                              bool fallback) const {
  const YAML::Node node = map[key];
  if (!node) return fallback;
  if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    if (text == "true") return true;
    if (text == "false") return false;
  }
  Problem(Join(at, key), "must be true or false");
  return fallback;
}

std::vector<int64_t> YamlFields::OptionalIntList(const YAML::Node& map, const std::string& at,
                                                 const std::string& key, int64_t min,
                                                 int64_t max) const {
  std::vector<int64_t> values;
  const YAML::Node node = map[key];
  if (!node) return values;
  const std::string path = Join(at, key);
  if (!node.IsSequence()) {
    Problem(path, "must be a list of integers");
    return values;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string item = path + "[" + std::to_string(i) + "]";
    auto value = ToInt(node[i], item);
    if (!value) continue;
    if (*value < min || *value > max) {
      Problem(item, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                        ", got " + std::to_string(*value));
      continue;
    }
    values.push_back(*value);
  }
  return values;
}

std::vector<TensorConfig> YamlFields::TensorList(const YAML::Node& node, const std::string& key,
                                                 std::map<std::string, int64_t>* positions) const {
  std::vector<TensorConfig> tensors;
  if (!node || !node.IsSequence() || node.size() == 0) {
    Problem(key, "must be a non-empty list of {name, datatype, shape}");
    return tensors;
  }
  std::set<std::string> names;
  std::set<int64_t> taken;  // positions, with `positions`
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string at = key + "[" + std::to_string(i) + "]";
    const YAML::Node& item = node[i];
    if (!item.IsMap()) {
      Problem(at, "must be a map {name, datatype, shape}");
      continue;
    }
    if (positions) {
      CheckKeys(item, at, {"name", "datatype", "shape", "position"});
    } else {
      CheckKeys(item, at, {"name", "datatype", "shape"});
    }
    TensorConfig t;
    t.name = RequiredString(item, at, "name");
    if (!t.name.empty() && !names.insert(t.name).second) {
      Problem(at + ".name", "'" + t.name + "' appears twice");
    }
    if (auto dtype = RequiredDataType(item, at)) t.dtype = *dtype;
    if (auto shape = RequiredShape(item, at)) t.shape = *shape;
    int64_t position = static_cast<int64_t>(i);
    if (positions && item["position"]) {
      if (auto given = ToInt(item["position"], at + ".position")) {
        if (*given < 0) {
          Problem(at + ".position", "must be at least 0, got " + std::to_string(*given));
        } else {
          position = *given;
          (*positions)[t.name] = position;
        }
      }
    }
    if (positions && !taken.insert(position).second) {
      Problem(at + ".position", "position " + std::to_string(position) + " is another one's too");
    }
    tensors.push_back(std::move(t));
  }
  return tensors;
}

std::vector<std::pair<std::string, std::string>> YamlFields::NameMap(const YAML::Node& node,
                                                                     const std::string& key) const {
  std::vector<std::pair<std::string, std::string>> out;
  if (!node || !node.IsMap() || node.size() == 0) {
    Problem(key, "must be a non-empty map of step tensor names to pipeline tensor names");
    return out;
  }
  for (const auto& kv : node) {
    if (!kv.second.IsScalar() || kv.second.Scalar().empty()) {
      Problem(key + "." + kv.first.Scalar(), "must name a pipeline tensor");
      continue;
    }
    out.emplace_back(kv.first.Scalar(), kv.second.Scalar());
  }
  return out;
}

std::optional<DataType> YamlFields::RequiredDataType(const YAML::Node& map,
                                                     const std::string& at) const {
  const std::string name = RequiredString(map, at, "datatype");
  if (name.empty()) return std::nullopt;
  auto dtype = ParseDataType(name);
  if (!dtype) {
    Problem(Join(at, "datatype"), "unknown datatype '" + name + "' (expected one of " +
                                      std::string(DataTypeNames()) + ")");
  }
  return dtype;
}

std::optional<Shape> YamlFields::RequiredShape(const YAML::Node& map, const std::string& at) const {
  const YAML::Node node = map["shape"];
  const std::string path = Join(at, "shape");
  if (!node) {
    Problem(path, "is required ([] for one scalar per batch item)");
    return std::nullopt;
  }
  if (!node.IsSequence()) {
    Problem(path, "must be a list of dimensions, -1 for any size");
    return std::nullopt;
  }
  std::vector<int64_t> dims;
  bool ok = true;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string item = path + "[" + std::to_string(i) + "]";
    auto dim = ToInt(node[i], item);
    if (!dim) {
      ok = false;
    } else if (*dim < 1 && *dim != Shape::kAnyDim) {
      Problem(item, "must be a positive size or -1 (any), got " + std::to_string(*dim));
      ok = false;
    } else {
      dims.push_back(*dim);
    }
  }
  if (!ok) return std::nullopt;
  return Shape(std::move(dims));
}

}  // namespace tandem
