// YamlFields: typed reads of YAML map fields that report problems by file and key path
// instead of throwing. Internal to config/.
#pragma once

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config_problems.h"
#include "config/tensor_config.h"
#include "core/data_type.h"
#include "core/shape.h"

namespace tandem {

// Parses `yaml` (the text of `file`) into `root`. Reports a syntax error with its line and column,
// or a document that is not a map (`expected` lists its main keys), and then returns false.
bool LoadYamlMap(std::string_view yaml, const std::string& file, std::string_view expected,
                 ConfigProblems& problems, YAML::Node& root);

class YamlFields {
 public:
  YamlFields(std::string file, ConfigProblems& problems)
      : file_(std::move(file)), problems_(problems) {}

  void Problem(const std::string& key, std::string message) const;

  // Reports every key of `map` not in `allowed` (typos are the commonest config bug).
  void CheckKeys(const YAML::Node& map, const std::string& at,
                 std::initializer_list<std::string_view> allowed) const;

  // `at` is the path of `map`; `key` the field inside it. Missing or wrong fields are reported
  // and yield an empty/default value.
  std::string RequiredString(const YAML::Node& map, const std::string& at,
                             const std::string& key) const;
  int64_t OptionalInt(const YAML::Node& map, const std::string& at, const std::string& key,
                      int64_t fallback, int64_t min) const;
  bool OptionalBool(const YAML::Node& map, const std::string& at, const std::string& key,
                    bool fallback) const;
  std::vector<int64_t> OptionalIntList(const YAML::Node& map, const std::string& at,
                                       const std::string& key, int64_t min, int64_t max) const;
  // A non-empty list of {name, datatype, shape} with unique names. With `positions`, each may
  // also give a `position` (an index of at least 0, none used twice, counting an entry without
  // one at its place in the list); the ones given are added to `*positions` by name.
  std::vector<TensorConfig> TensorList(const YAML::Node& node, const std::string& key,
                                       std::map<std::string, int64_t>* positions = nullptr) const;
  // A map of names to names (a pipeline step's `inputs:` or `outputs:`), in file order.
  std::vector<std::pair<std::string, std::string>> NameMap(const YAML::Node& node,
                                                           const std::string& key) const;
  std::optional<DataType> RequiredDataType(const YAML::Node& map, const std::string& at) const;
  std::optional<Shape> RequiredShape(const YAML::Node& map, const std::string& at) const;

 private:
  static std::string Join(const std::string& at, const std::string& key) {
    return at.empty() ? key : at + "." + key;
  }
  std::optional<int64_t> ToInt(const YAML::Node& node, const std::string& key) const;

  std::string file_;
  ConfigProblems& problems_;
};

}  // namespace tandem
