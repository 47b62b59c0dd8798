#include "http/request_head.h"

#include <gtest/gtest.h>

#include <string>

namespace pneumo::http {
namespace {

TEST(RequestHeadScanner, FindsTheEndOfAHeadAcrossReads) {
  RequestHeadScanner scanner(1024, 10);
  std::string received = "GET / HTTP/1.1\r\nHost: x\r";
  EXPECT_EQ(scanner.Scan(received), RequestHeadScanner::State::kIncomplete);
  received += "\n\r";
  EXPECT_EQ(scanner.Scan(received), RequestHeadScanner::State::kIncomplete);
  received += "\nBODY";
  EXPECT_EQ(scanner.Scan(received), RequestHeadScanner::State::kComplete);
  EXPECT_EQ(scanner.head_size(), received.size() - 4);
}

TEST(RequestHeadScanner, AcceptsBareLineFeeds) {
  RequestHeadScanner scanner(1024, 10);
  EXPECT_EQ(scanner.Scan("GET / HTTP/1.1\nHost: x\n\n"), RequestHeadScanner::State::kComplete);
  EXPECT_EQ(scanner.head_size(), 24u);
}

TEST(RequestHeadScanner, RefusesTooManyFieldsAndTooManyBytes) {
  RequestHeadScanner fields(1 << 20, 3);
  std::string head = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 3; ++i) head += "A: b\r\n";
  EXPECT_EQ(fields.Scan(head), RequestHeadScanner::State::kIncomplete);  // 3 fields: allowed
  head += "A: b\r\n";
  EXPECT_EQ(fields.Scan(head), RequestHeadScanner::State::kTooManyFields);

  RequestHeadScanner bytes(64, 100);
  EXPECT_EQ(bytes.Scan("GET /" + std::string(100, 'a')), RequestHeadScanner::State::kTooLarge);
  bytes.Reset();
  EXPECT_EQ(bytes.Scan("GET / HTTP/1.1\r\n\r\n"), RequestHeadScanner::State::kComplete);
}

TEST(DeclareEmptyBody, AddsALengthOnlyWhereABodyWouldBeAwaited) {
  std::string post = "POST /x HTTP/1.1\r\nHost: t\r\n\r\nNEXT";
  DeclareEmptyBody(post, post.size() - 4);
  EXPECT_EQ(post, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\nNEXT");
  std::string bare = "DELETE /x HTTP/1.1\nHost: t\n\n";
  DeclareEmptyBody(bare, bare.size());
  EXPECT_EQ(bare, "DELETE /x HTTP/1.1\nHost: t\nContent-Length: 0\r\n\n");
  for (std::string kept : {"POST /x HTTP/1.1\r\ncontent-LENGTH: 3\r\n\r\n",
                           "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                           "GET /x HTTP/1.1\r\nHost: t\r\n\r\n"}) {
    const std::string before = kept;
    DeclareEmptyBody(kept, kept.size());
    EXPECT_EQ(kept, before);
  }
}

}  // namespace
}  // namespace pneumo::http
