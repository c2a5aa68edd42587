#include "src/eif/eif_description.h"

namespace lockout::eif {

nlohmann::ordered_json DescribeEif(const EifImage& image) {
  nlohmann::ordered_json out;
  out["EifVersion"] = image.header.version;
  nlohmann::ordered_json m;
  m["HashAlgorithm"] = kNitroHashAlgorithm;
  m["PCR0"] = PcrHex(image.measurements.pcr0);
  m["PCR1"] = PcrHex(image.measurements.pcr1);
  m["PCR2"] = PcrHex(image.measurements.pcr2);
  if (image.measurements.pcr8.has_value()) m["PCR8"] = PcrHex(*image.measurements.pcr8);
  out["Measurements"] = std::move(m);
  out["IsSigned"] = image.is_signed();
  out["CheckCRC"] = image.crc_ok;
  if (image.signature_valid.has_value()) out["SignatureCheck"] = *image.signature_valid;

  if (!image.metadata_json.has_value()) return out;
  // The reader checked that this is a JSON object; fields of the wrong type are left out
  // rather than failing the whole description.
  const nlohmann::ordered_json meta =
      nlohmann::ordered_json::parse(*image.metadata_json, nullptr, /*allow_exceptions=*/false);
  if (!meta.is_object()) return out;
  for (const char* key : {"ImageName", "ImageVersion"}) {
    auto it = meta.find(key);
    if (it != meta.end() && it->is_string()) out[key] = *it;
  }
  nlohmann::ordered_json described = nlohmann::ordered_json::object();
  auto build = meta.find("BuildMetadata");
  if (build != meta.end() && build->is_object()) {
    for (const char* key :
         {"BuildTime", "BuildTool", "BuildToolVersion", "OperatingSystem", "KernelVersion"}) {
      auto it = build->find(key);
      if (it != build->end()) described[key] = *it;
    }
  }
  auto docker = meta.find("DockerInfo");
  if (docker != meta.end()) described["DockerInfo"] = *docker;
  auto custom = meta.find("CustomMetadata");
  if (custom != meta.end() && custom->is_object()) {
    for (auto it = custom->begin(); it != custom->end(); ++it) described[it.key()] = it.value();
  }
  if (!described.empty()) out["Metadata"] = std::move(described);
  return out;
}

}  // namespace lockout::eif
