#include "data/patient_id.h"

#include <gtest/gtest.h>

namespace pneumo::data {
namespace {

TEST(PatientId, TakesPersonPrefixFromPneumoniaNames) {
  EXPECT_EQ(PatientIdFromFilename("person1003_virus_1685.jpeg"), "person1003");
  EXPECT_EQ(PatientIdFromFilename("person1003_bacteria_2934.jpeg"), "person1003");
}

TEST(PatientId, TakesImSeriesFromNormalNames) {
  EXPECT_EQ(PatientIdFromFilename("IM-0115-0001.jpeg"), "IM-0115");
  EXPECT_EQ(PatientIdFromFilename("IM-0115-0002.jpeg"), "IM-0115");
  EXPECT_EQ(PatientIdFromFilename("NORMAL2-IM-1427-0001.jpeg"), "NORMAL2-IM-1427");
}

TEST(PatientId, KeepsNormal2AndPlainImSeriesApart) {
  EXPECT_NE(PatientIdFromFilename("NORMAL2-IM-0115-0001.jpeg"),
            PatientIdFromFilename("IM-0115-0001.jpeg"));
}

TEST(PatientId, TreatsUnknownNamesAsTheirOwnPatient) {
  EXPECT_EQ(PatientIdFromFilename("scan_42.png"), "scan_42");
  EXPECT_EQ(PatientIdFromFilename("noext"), "noext");
  EXPECT_EQ(PatientIdFromFilename("personX_virus.jpeg"), "personX_virus");
}

}  // namespace
}  // namespace pneumo::data
