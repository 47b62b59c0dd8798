#include "http/csv.h"

#include <gtest/gtest.h>

namespace pneumo::http {
namespace {

TEST(Csv, PlainCellsStayAsTheyAre) {
  EXPECT_EQ(CsvCell("chest.png"), "chest.png");
  EXPECT_EQ(CsvCell(""), "");
  EXPECT_EQ(CsvCell("0.9123"), "0.9123");
}

TEST(Csv, CommasQuotesAndLineBreaksAreQuotedWithQuotesDoubled) {
  EXPECT_EQ(CsvCell("left,right.png"), "\"left,right.png\"");
  EXPECT_EQ(CsvCell("say \"hi\".png"), "\"say \"\"hi\"\".png\"");
  EXPECT_EQ(CsvCell("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvCell("cr\rhere"), "\"cr\rhere\"");
}

TEST(Csv, CellsASpreadsheetWouldRunAsFormulasAreDefused) {
  EXPECT_EQ(CsvCell("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
  EXPECT_EQ(CsvCell("+1"), "'+1");
  EXPECT_EQ(CsvCell("-2"), "'-2");
  EXPECT_EQ(CsvCell("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(CsvCell("\tx"), "'\tx");
  EXPECT_EQ(CsvCell("a=b"), "a=b") << "only a leading sign makes a formula";
}

TEST(Csv, ARowJoinsItsCellsAndEndsInCrLf) {
  EXPECT_EQ(CsvRow({"a", "b,c", ""}), "a,\"b,c\",\r\n");
  EXPECT_EQ(CsvRow({}), "\r\n");
}

}  // namespace
}  // namespace pneumo::http
