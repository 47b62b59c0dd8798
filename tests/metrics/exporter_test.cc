#include "metrics/exporter.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

namespace pneumo::metrics {
namespace {

TEST(Exporter, ServesTheRegistryOnMetricsOverRealHttp) {
  Registry registry;
  Gauge& loss = registry.AddGauge("pneumo_train_loss", "Mean training loss");
  loss.Set(0.5);
  auto exporter = Exporter::Start(registry, "127.0.0.1", 0);
  ASSERT_TRUE(exporter.has_value()) << exporter.error().ToString();
  ASSERT_GT((*exporter)->port(), 0);

  httplib::Client client("127.0.0.1", (*exporter)->port());
  auto first = client.Get("/metrics");
  ASSERT_TRUE(first) << httplib::to_string(first.error());
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(first->body, registry.Render());
  EXPECT_NE(first->body.find("pneumo_train_loss 0.5\n"), std::string::npos);

  loss.Set(0.25);  // every scrape renders afresh
  auto second = client.Get("/metrics");
  ASSERT_TRUE(second);
  EXPECT_NE(second->body.find("pneumo_train_loss 0.25\n"), std::string::npos);
}

TEST(Exporter, AnswersNotFoundOnOtherPaths) {
  Registry registry;
  auto exporter = Exporter::Start(registry, "127.0.0.1", 0);
  ASSERT_TRUE(exporter.has_value()) << exporter.error().ToString();
  httplib::Client client("127.0.0.1", (*exporter)->port());
  for (const char* path : {"/", "/metric", "/metrics/extra", "/favicon.ico"}) {
    auto res = client.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
  }
}

TEST(Exporter, ReportsAPortInUseAsUnavailableNamingHostAndPort) {
  Registry registry;
  auto first = Exporter::Start(registry, "127.0.0.1", 0);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  const int port = (*first)->port();

  auto second = Exporter::Start(registry, "127.0.0.1", port);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(second.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << second.error().message;
}

TEST(Exporter, StopsServingOnceDestroyed) {
  Registry registry;
  int port = 0;
  {
    auto exporter = Exporter::Start(registry, "127.0.0.1", 0);
    ASSERT_TRUE(exporter.has_value()) << exporter.error().ToString();
    port = (*exporter)->port();
  }
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1);
  EXPECT_FALSE(client.Get("/metrics"));
  // And the port is free again for the next run.
  auto again = Exporter::Start(registry, "127.0.0.1", port);
  EXPECT_TRUE(again.has_value()) << again.error().ToString();
}

TEST(Exporter, RejectsAPortOutOfRange) {
  Registry registry;
  auto exporter = Exporter::Start(registry, "127.0.0.1", 70000);
  ASSERT_FALSE(exporter.has_value());
  EXPECT_EQ(exporter.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace pneumo::metrics
