// The behaviour every ResultStore must show, as a typed test suite run against each backend.
//
//   struct SqliteBackend {
//     static constexpr char kName[] = "Sqlite";
//     std::string Start();                                    // "" or why the backend is missing
//     Result<std::unique_ptr<ResultStore>> Open();
//     std::string Restart();                                  // stop and start the backend
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreContract, SqliteBackend, BackendNames);
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "store/result_store.h"

namespace pneumo::store::testing {

struct BackendNames {
  template <typename Backend>
  static std::string GetName(int) {
    return Backend::kName;
  }
};

// A record with every field set, and a preview holding bytes that break naive string handling.
inline PredictionRecord MakeRecord(std::string id, std::int64_t created_at_ms) {
  PredictionRecord r;
  r.id = std::move(id);
  r.filename = "patient 7/chest ü.png";
  r.label = "PNEUMONIA";
  r.probability = 0.1 + 0.2;  // not exactly representable in decimal: checks round-tripping
  r.threshold = 0.5;
  r.review = true;
  r.model_name = "resnet18";
  r.model_version = "1.4.0+g3a2b";
  r.sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  r.created_at = "2026-11-26T13:56:51.123Z";
  r.created_at_ms = created_at_ms;
  r.decode_ms = 3.25;
  r.queue_ms = 0;
  r.inference_ms = 41.0625;
  r.details_json =
      R"({"review_reasons":["probability 0.61 is near the threshold"],"image":{"width":2}})";
  r.preview_jpeg = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0x00, 0xff, 0x00, '%', 's', 'b'};
  r.owner = "dr.ada";
  // Every DICOM field distinct, so a column mix-up shows.
  int n = 0;
  for (const auto& [name, member] : kDicomFields) {
    r.dicom.*member = std::string(name) + " 1.2.826.0.1." + std::to_string(++n);
  }
  r.dicom.patient_name = "Müller^Jürgen";
  return r;
}

inline ReceivedInstance MakeReceived(std::string sop_uid, std::int64_t at_ms, std::string outcome) {
  return ReceivedInstance{.received_at_ms = at_ms,
                          .received_at = "2026-12-01T23:00:00.000Z",
                          .source = "c-store from ORTHANC",
                          .study_instance_uid = "1.2.3",
                          .series_instance_uid = "1.2.3.4",
                          .sop_instance_uid = std::move(sop_uid),
                          .sop_class_uid = "1.2.840.10008.5.1.4.1.1.2",
                          .accession_number = "ACC-7",
                          .modality = "CT",
                          .outcome = std::move(outcome),
                          .reason = "modality CT is not a radiograph (CR, DX or DR) \"quoted\"",
                          .prediction_id = ""};
}

inline void ExpectSameRecord(const PredictionRecord& a, const PredictionRecord& b,
                             bool with_preview) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.filename, b.filename);
  EXPECT_EQ(a.label, b.label);
  EXPECT_EQ(a.probability, b.probability);
  EXPECT_EQ(a.threshold, b.threshold);
  EXPECT_EQ(a.review, b.review);
  EXPECT_EQ(a.model_name, b.model_name);
  EXPECT_EQ(a.model_version, b.model_version);
  EXPECT_EQ(a.sha256, b.sha256);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.created_at_ms, b.created_at_ms);
  EXPECT_EQ(a.decode_ms, b.decode_ms);
  EXPECT_EQ(a.queue_ms, b.queue_ms);
  EXPECT_EQ(a.inference_ms, b.inference_ms);
  EXPECT_EQ(a.details_json, b.details_json);
  EXPECT_EQ(a.owner, b.owner);
  EXPECT_EQ(a.dicom, b.dicom);
  if (with_preview) {
    EXPECT_EQ(a.preview_jpeg, b.preview_jpeg);
  } else {
    EXPECT_TRUE(b.preview_jpeg.empty()) << "List must leave preview_jpeg empty";
  }
}

template <typename Backend>
class StoreContract : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string problem = backend_.Start();
    ASSERT_EQ(problem, "") << problem;
    ASSERT_NO_FATAL_FAILURE(Reopen());
  }

  void Reopen() {
    store_.reset();
    auto opened = backend_.Open();
    ASSERT_TRUE(opened) << opened.error().ToString();
    store_ = std::move(*opened);
  }

  void Put(const PredictionRecord& record) {
    auto put = store_->Put(record);
    ASSERT_TRUE(put) << put.error().ToString();
  }

  std::vector<std::string> ListedIds(int page, int per_page) {
    std::vector<std::string> ids;
    auto listed = store_->List(page, per_page);
    EXPECT_TRUE(listed) << listed.error().ToString();
    if (listed) {
      for (const auto& item : listed->items) ids.push_back(item.id);
    }
    return ids;
  }

  Backend backend_;
  std::unique_ptr<ResultStore> store_;
};

TYPED_TEST_SUITE_P(StoreContract);

TYPED_TEST_P(StoreContract, KeepsEveryFieldIncludingThePreview) {
  const PredictionRecord record = MakeRecord("a1", 1'764'165'411'123);
  ASSERT_NO_FATAL_FAILURE(this->Put(record));

  auto got = this->store_->Get("a1");
  ASSERT_TRUE(got) << got.error().ToString();
  ExpectSameRecord(record, *got, /*with_preview=*/true);

  auto preview = this->store_->GetPreview("a1");
  ASSERT_TRUE(preview) << preview.error().ToString();
  EXPECT_EQ(*preview, record.preview_jpeg);
}

TYPED_TEST_P(StoreContract, KeepsARecordWithAnEmptyPreview) {
  PredictionRecord record = MakeRecord("no-preview", 5);
  record.preview_jpeg.clear();
  record.review = false;
  record.label = "NORMAL";
  ASSERT_NO_FATAL_FAILURE(this->Put(record));
  auto got = this->store_->Get("no-preview");
  ASSERT_TRUE(got) << got.error().ToString();
  ExpectSameRecord(record, *got, /*with_preview=*/true);
  auto preview = this->store_->GetPreview("no-preview");
  ASSERT_TRUE(preview) << preview.error().ToString();
  EXPECT_TRUE(preview->empty());
}

TYPED_TEST_P(StoreContract, ListsNewestFirstWithTotal) {
  for (const auto& [id, ms] : std::vector<std::pair<std::string, std::int64_t>>{{"old", 1000},
                                                                                {"newest-a", 3000},
                                                                                {"middle", 2000},
                                                                                {"newest-b", 3000},
                                                                                {"oldest", 500}}) {
    ASSERT_NO_FATAL_FAILURE(this->Put(MakeRecord(id, ms)));
  }
  auto first = this->store_->List(1, 3);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->total, 5);
  EXPECT_EQ(first->page, 1);
  EXPECT_EQ(first->per_page, 3);
  ASSERT_EQ(first->items.size(), 3u);
  // Ties on created_at_ms are broken by id, descending.
  EXPECT_EQ(this->ListedIds(1, 3), (std::vector<std::string>{"newest-b", "newest-a", "middle"}));
  EXPECT_EQ(this->ListedIds(2, 3), (std::vector<std::string>{"old", "oldest"}));
  ExpectSameRecord(MakeRecord("newest-b", 3000), first->items[0], /*with_preview=*/false);
}

TYPED_TEST_P(StoreContract, PagesBeyondTheEndAreEmpty) {
  for (int i = 0; i < 3; ++i)
    ASSERT_NO_FATAL_FAILURE(this->Put(MakeRecord("r" + std::to_string(i), i)));
  auto beyond = this->store_->List(2, 5);
  ASSERT_TRUE(beyond) << beyond.error().ToString();
  EXPECT_TRUE(beyond->items.empty());
  EXPECT_EQ(beyond->total, 3);
  EXPECT_EQ(beyond->page, 2);

  auto far = this->store_->List(1'000'000'000, 100);  // (page - 1) * per_page overflows an int
  ASSERT_TRUE(far) << far.error().ToString();
  EXPECT_TRUE(far->items.empty());
}

TYPED_TEST_P(StoreContract, AnEmptyStoreListsNothing) {
  auto listed = this->store_->List(1, 20);
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_EQ(listed->total, 0);
  EXPECT_TRUE(listed->items.empty());
}

TYPED_TEST_P(StoreContract, RejectsBadPaging) {
  for (const auto& [page, per_page] :
       std::vector<std::pair<int, int>>{{0, 20}, {-1, 20}, {1, 0}, {1, -5}, {1, 101}}) {
    auto listed = this->store_->List(page, per_page);
    ASSERT_FALSE(listed) << "page=" << page << " per_page=" << per_page;
    EXPECT_EQ(listed.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(this->store_->List(1, 100));
  EXPECT_TRUE(this->store_->List(1, 1));
}

TYPED_TEST_P(StoreContract, GetUnknownIdIsNotFound) {
  ASSERT_NO_FATAL_FAILURE(this->Put(MakeRecord("known", 1)));
  auto got = this->store_->Get("unknown");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kNotFound);
  EXPECT_NE(got.error().message.find("unknown"), std::string::npos) << got.error().message;
  auto preview = this->store_->GetPreview("unknown");
  ASSERT_FALSE(preview);
  EXPECT_EQ(preview.error().code, ErrorCode::kNotFound);
}

TYPED_TEST_P(StoreContract, RejectsDuplicateIds) {
  const PredictionRecord original = MakeRecord("dup", 10);
  ASSERT_NO_FATAL_FAILURE(this->Put(original));
  PredictionRecord other = MakeRecord("dup", 20);
  other.label = "NORMAL";
  other.preview_jpeg = {1, 2, 3};
  auto put = this->store_->Put(other);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(put.error().message.find("dup"), std::string::npos) << put.error().message;

  auto got = this->store_->Get("dup");
  ASSERT_TRUE(got) << got.error().ToString();
  ExpectSameRecord(original, *got, /*with_preview=*/true);  // not overwritten
  auto listed = this->store_->List(1, 10);
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->total, 1);
}

TYPED_TEST_P(StoreContract, RejectsAnEmptyId) {
  auto put = this->store_->Put(MakeRecord("", 1));
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kInvalidArgument);
}

TYPED_TEST_P(StoreContract, SurvivesReopening) {
  for (int i = 0; i < 3; ++i)
    ASSERT_NO_FATAL_FAILURE(this->Put(MakeRecord("keep" + std::to_string(i), i)));
  this->store_.reset();
  const std::string problem = this->backend_.Restart();
  ASSERT_EQ(problem, "") << problem;
  ASSERT_NO_FATAL_FAILURE(this->Reopen());

  EXPECT_EQ(this->ListedIds(1, 10), (std::vector<std::string>{"keep2", "keep1", "keep0"}));
  auto got = this->store_->Get("keep1");
  ASSERT_TRUE(got) << got.error().ToString();
  ExpectSameRecord(MakeRecord("keep1", 1), *got, /*with_preview=*/true);
  EXPECT_TRUE(this->store_->Put(MakeRecord("after-restart", 99)));
}

// "t<thread>-<i>"; built with append because GCC 12 warns falsely (-Wrestrict, PR 105329) on
// "literal" + std::to_string(...).
inline std::string WriterRecordId(int thread, int i) {
  std::string id = "t";
  id.append(std::to_string(thread)).append("-").append(std::to_string(i));
  return id;
}

TYPED_TEST_P(StoreContract, IsSafeUnderConcurrentWriters) {
  constexpr int kThreads = 8, kPutsEach = 25;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < kPutsEach; ++i) {
        if (!this->store_->Put(MakeRecord(WriterRecordId(t, i), t * 1000 + i))) ++failures[t];
        if (i % 5 == 0 && !this->store_->List(1, 10)) ++failures[t];  // readers beside writers
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;

  auto listed = this->store_->List(1, 100);
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_EQ(listed->total, kThreads * kPutsEach);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPutsEach; ++i) {
      EXPECT_TRUE(this->store_->Get(WriterRecordId(t, i)));
    }
  }
}

TYPED_TEST_P(StoreContract, ListsOnlyTheRecordsOfAnOwner) {
  for (const auto& [id, owner, ms] :
       std::vector<std::tuple<std::string, std::string, int>>{{"a1", "ada", 1},
                                                              {"b1", "bob", 2},
                                                              {"a2", "ada", 3},
                                                              {"none", "", 4},
                                                              {"a3", "ada", 5}}) {
    PredictionRecord r = MakeRecord(id, ms);
    r.owner = owner;
    ASSERT_NO_FATAL_FAILURE(this->Put(r));
  }
  auto ada = this->store_->ListOwnedBy("ada", 1, 2);
  ASSERT_TRUE(ada) << ada.error().ToString();
  EXPECT_EQ(ada->total, 3);
  ASSERT_EQ(ada->items.size(), 2u);
  EXPECT_EQ(ada->items[0].id, "a3");
  EXPECT_EQ(ada->items[1].id, "a2");
  EXPECT_EQ(ada->items[0].owner, "ada");
  auto rest = this->store_->ListOwnedBy("ada", 2, 2);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_EQ(rest->items[0].id, "a1");
  EXPECT_EQ(this->store_->ListOwnedBy("bob", 1, 10)->total, 1);
  EXPECT_EQ(this->store_->ListOwnedBy("carol", 1, 10)->total, 0);
  EXPECT_EQ(this->store_->List(1, 10)->total, 5) << "List still shows everyone's";
  EXPECT_EQ(this->store_->Get("none")->owner, "");
  EXPECT_EQ(this->store_->ListOwnedBy("", 1, 10).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(this->store_->ListOwnedBy("ada", 0, 10).error().code, ErrorCode::kInvalidArgument);
  // Both filters at once: a doctor's view of one study.
  PredictionRecord study = MakeRecord("a4", 6);
  study.owner = "ada";
  study.dicom.accession_number = "ACC9";
  ASSERT_NO_FATAL_FAILURE(this->Put(study));
  PredictionRecord other = MakeRecord("b2", 7);
  other.owner = "bob";
  other.dicom.accession_number = "ACC9";
  ASSERT_NO_FATAL_FAILURE(this->Put(other));
  auto both = this->store_->List(
      ListQuery{.page = 1, .per_page = 10, .accession_number = "ACC9", .owner = "ada"});
  ASSERT_TRUE(both) << both.error().ToString();
  EXPECT_EQ(both->total, 1);
  ASSERT_EQ(both->items.size(), 1u);
  EXPECT_EQ(both->items[0].id, "a4");
}

TYPED_TEST_P(StoreContract, FiltersTheHistoryByAccessionNumber) {
  for (const auto& [id, ms, accession] : std::vector<std::tuple<std::string, int, std::string>>{
           {"a-old", 10, "A1"}, {"b", 20, "B2"}, {"a-new", 30, "A1"}, {"plain", 40, ""}}) {
    PredictionRecord r = MakeRecord(id, ms);
    r.dicom.accession_number = accession;
    ASSERT_NO_FATAL_FAILURE(this->Put(r));
  }
  auto a1 = this->store_->List(ListQuery{.page = 1, .per_page = 10, .accession_number = "A1"});
  ASSERT_TRUE(a1) << a1.error().ToString();
  EXPECT_EQ(a1->total, 2);
  ASSERT_EQ(a1->items.size(), 2u);
  EXPECT_EQ(a1->items[0].id, "a-new");
  EXPECT_EQ(a1->items[1].id, "a-old");
  EXPECT_EQ(a1->items[0].dicom.accession_number, "A1");
  auto second = this->store_->List(ListQuery{.page = 2, .per_page = 1, .accession_number = "A1"});
  ASSERT_TRUE(second) << second.error().ToString();
  ASSERT_EQ(second->items.size(), 1u);
  EXPECT_EQ(second->items[0].id, "a-old");
  auto none = this->store_->List(ListQuery{.page = 1, .per_page = 10, .accession_number = "A"});
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_EQ(none->total, 0);  // exact match, not a prefix
  EXPECT_EQ(this->store_->List(1, 10)->total, 4);
  auto bad = this->store_->List(ListQuery{.page = 0, .per_page = 10, .accession_number = "A1"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

TYPED_TEST_P(StoreContract, LogsReceivedInstancesNewestFirst) {
  auto empty = this->store_->ListReceived(10);
  ASSERT_TRUE(empty) << empty.error().ToString();
  EXPECT_TRUE(empty->empty());
  const ReceivedInstance ct = MakeReceived("1.2.3.4.5", 100, "not_eligible");
  ReceivedInstance dx = MakeReceived("1.2.3.4.6", 200, "predicted");
  dx.modality = "DX";
  dx.reason = "";
  dx.prediction_id = "p-1";
  ASSERT_TRUE(this->store_->LogReceived(ct));
  ASSERT_TRUE(this->store_->LogReceived(dx));
  auto log = this->store_->ListReceived(10);
  ASSERT_TRUE(log) << log.error().ToString();
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0], dx);
  EXPECT_EQ((*log)[1], ct);
  auto one = this->store_->ListReceived(1);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->size(), 1u);
  EXPECT_FALSE(this->store_->ListReceived(0));
  auto no_uid = this->store_->LogReceived(MakeReceived("", 1, "failed"));
  ASSERT_FALSE(no_uid);
  EXPECT_EQ(no_uid.error().code, ErrorCode::kInvalidArgument);
}

TYPED_TEST_P(StoreContract, AnswersPingAndDescribesItself) {
  EXPECT_TRUE(this->store_->Ping());
  EXPECT_FALSE(this->store_->Describe().empty());
}

TYPED_TEST_P(StoreContract, DeleteRemovesTheRecordFromEveryListAndLeavesTheOthers) {
  for (const auto& [id, ms] : std::vector<std::pair<std::string, int>>{{"keep", 1}, {"gone", 2}}) {
    PredictionRecord r = MakeRecord(id, ms);
    r.owner = "ada";
    r.dicom.accession_number = "ACC5";
    ASSERT_NO_FATAL_FAILURE(this->Put(r));
  }
  ASSERT_TRUE(this->store_->Delete("gone"));
  EXPECT_EQ(this->store_->Get("gone").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->store_->GetPreview("gone").error().code, ErrorCode::kNotFound);
  for (const ListQuery& query :
       {ListQuery{.page = 1, .per_page = 10}, ListQuery{.page = 1, .per_page = 10, .owner = "ada"},
        ListQuery{.page = 1, .per_page = 10, .accession_number = "ACC5"},
        ListQuery{.page = 1, .per_page = 10, .accession_number = "ACC5", .owner = "ada"}}) {
    auto page = this->store_->List(query);
    ASSERT_TRUE(page) << page.error().ToString();
    EXPECT_EQ(page->total, 1);
    ASSERT_EQ(page->items.size(), 1u);
    EXPECT_EQ(page->items[0].id, "keep");
  }
  auto kept = this->store_->Get("keep");
  ASSERT_TRUE(kept) << kept.error().ToString();
  EXPECT_EQ(kept->preview_jpeg, MakeRecord("keep", 1).preview_jpeg) << "the other record is whole";
  auto again = this->store_->Delete("gone");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(this->store_->Delete("never").error().code, ErrorCode::kNotFound);
}

REGISTER_TYPED_TEST_SUITE_P(StoreContract, KeepsEveryFieldIncludingThePreview,
                            KeepsARecordWithAnEmptyPreview, ListsNewestFirstWithTotal,
                            PagesBeyondTheEndAreEmpty, AnEmptyStoreListsNothing, RejectsBadPaging,
                            GetUnknownIdIsNotFound, RejectsDuplicateIds, RejectsAnEmptyId,
                            SurvivesReopening, IsSafeUnderConcurrentWriters,
                            ListsOnlyTheRecordsOfAnOwner, FiltersTheHistoryByAccessionNumber,
                            LogsReceivedInstancesNewestFirst, AnswersPingAndDescribesItself,
                            DeleteRemovesTheRecordFromEveryListAndLeavesTheOthers);

}  // namespace pneumo::store::testing
