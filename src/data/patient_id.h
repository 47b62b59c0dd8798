// Patient identity from a Kermany-style file name, so that splits never put one child's images on
// both sides.
//
//   PatientIdFromFilename("person1003_virus_1685.jpeg")  == "person1003"
//   PatientIdFromFilename("IM-0115-0001.jpeg")            == "IM-0115"
//   PatientIdFromFilename("NORMAL2-IM-1427-0001.jpeg")    == "NORMAL2-IM-1427"
//
// Any other name is its own patient (the file stem): safe, since it can only make groups smaller.
#pragma once

#include <string>
#include <string_view>

namespace pneumo::data {

std::string PatientIdFromFilename(std::string_view filename);

}  // namespace pneumo::data
