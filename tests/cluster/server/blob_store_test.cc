#include "brook/cluster/server/blob_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

namespace brook::server {
namespace {

namespace fs = std::filesystem;

class BlobStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    directory_ =
        fs::temp_directory_path() /
        ("brook_blob_store_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(directory_);
  }
  void TearDown() override { fs::remove_all(directory_); }

  std::unique_ptr<BlobStore> OpenStore(uint64_t max_bytes = 1 << 20) {
    auto store = BlobStore::Open(directory_, max_bytes);
    EXPECT_TRUE(store) << store.error().message;
    return std::move(store).value();
  }

  static std::string ToString(const std::vector<std::byte>& bytes) {
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }

  fs::path directory_;
};

TEST_F(BlobStoreTest, KeyIsTheSha256OfTheBytes) {
  auto store = OpenStore();
  auto key = store->Put("abc", "libjob.so");
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key.value().hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(store->Contains(key.value()));
  EXPECT_EQ(ToString(store->Read(key.value()).value()), "abc");
}

TEST_F(BlobStoreTest, PathIsTheFileUnderItsKeyWithTheOriginalName) {
  auto store = OpenStore();
  BlobKey key = store->Put("library bytes", "/home/user/build/libclickstream.so").value();
  const fs::path path = store->Path(key).value();
  EXPECT_EQ(path, directory_ / key.hex() / "libclickstream.so");
  std::ifstream file(path);
  std::string content((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "library bytes");
}

TEST_F(BlobStoreTest, PuttingTheSameBytesTwiceIsOneBlob) {
  auto store = OpenStore();
  BlobKey first = store->Put("same", "first.so").value();
  BlobKey second = store->Put("same", "second.so").value();
  EXPECT_EQ(first, second);
  auto blobs = store->List();
  ASSERT_EQ(blobs.size(), 1u);
  EXPECT_EQ(blobs[0].name, "first.so");
  EXPECT_EQ(blobs[0].size, 4u);
}

TEST_F(BlobStoreTest, ListsEveryBlobWithSizeAndName) {
  auto store = OpenStore();
  store->Put("one", "a.so").value();
  store->Put("three", "b.so").value();
  auto blobs = store->List();
  ASSERT_EQ(blobs.size(), 2u);
  std::set<std::pair<std::string, uint64_t>> seen;
  for (const BlobInfo& blob : blobs) seen.emplace(blob.name, blob.size);
  EXPECT_EQ(seen, (std::set<std::pair<std::string, uint64_t>>{{"a.so", 3}, {"b.so", 5}}));
  EXPECT_LT(blobs[0].key, blobs[1].key);
}

TEST_F(BlobStoreTest, SurvivesReopeningAndDeletesLeftoverTemporaries) {
  BlobKey key = OpenStore()->Put("persisted", "job.so").value();
  fs::create_directories(directory_ / ".tmp-crashed-put");
  std::ofstream(directory_ / ".tmp-crashed-put" / "job.so") << "half";
  auto reopened = OpenStore();
  EXPECT_TRUE(reopened->Contains(key));
  EXPECT_EQ(reopened->Info(key).value().name, "job.so");
  EXPECT_EQ(ToString(reopened->Read(key).value()), "persisted");
  EXPECT_FALSE(fs::exists(directory_ / ".tmp-crashed-put"));
}

TEST_F(BlobStoreTest, ParseAcceptsOnlySixtyFourLowerCaseHexDigits) {
  const std::string good(64, 'a');
  EXPECT_TRUE(BlobKey::Parse(good));
  for (const std::string& bad :
       {std::string(""), std::string(63, 'a'), std::string(65, 'a'), std::string(64, 'A'),
        std::string("../") + std::string(61, 'a'), std::string("../../etc/passwd"),
        std::string(60, 'a') + "/../", std::string(63, 'a') + "g",
        std::string(32, 'a') + "/" + std::string(31, 'a')}) {
    auto key = BlobKey::Parse(bad);
    ASSERT_FALSE(key) << bad;
    EXPECT_EQ(key.error().code, ServerErrc::kInvalidArgument);
    EXPECT_NE(key.error().message.find("is not a blob key"), std::string::npos);
  }
}

TEST_F(BlobStoreTest, HostileNamesStayInsideTheBlobDirectory) {
  auto store = OpenStore();
  const std::pair<std::string, std::string> cases[] = {
      {"../../evil.so", "evil.so"}, {"..", "blob.."},         {"", "blob"},
      {".hidden", "blob.hidden"},   {"a b$c.so", "a_b_c.so"}, {"dir\\win.so", "win.so"}};
  int i = 0;
  for (const auto& [name, stored] : cases) {
    BlobKey key = store->Put("content " + std::to_string(i++), name).value();
    const fs::path path = store->Path(key).value();
    EXPECT_EQ(path.parent_path(), directory_ / key.hex()) << name;
    EXPECT_EQ(path.filename().string(), stored) << name;
  }
}

TEST_F(BlobStoreTest, RefusesBlobsOverTheLimitAndLeavesNoTrace) {
  auto store = OpenStore(/*max_bytes=*/8);
  auto too_big = store->Put("123456789", "big.so");
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code, ServerErrc::kResourceExhausted);
  EXPECT_NE(too_big.error().message.find("9 bytes, over the limit of 8"), std::string::npos);
  EXPECT_TRUE(store->List().empty());
  EXPECT_TRUE(fs::is_empty(directory_));
  EXPECT_TRUE(store->Put("12345678", "fits.so"));
}

TEST_F(BlobStoreTest, PutVerifiedRefusesBytesOfAnotherKey) {
  auto store = OpenStore();
  const std::string bytes = "fetched library";
  const BlobKey right = BlobKey::Of(std::as_bytes(std::span(bytes)));
  const BlobKey wrong = BlobKey::Parse(std::string(64, '0')).value();
  auto refused = store->PutVerified(std::as_bytes(std::span(bytes)), "lib.so", wrong);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ServerErrc::kInvalidArgument);
  EXPECT_TRUE(store->List().empty());
  auto stored = store->PutVerified(std::as_bytes(std::span(bytes)), "lib.so", right);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored.value(), right);
}

TEST_F(BlobStoreTest, ReadRangeServesChunks) {
  auto store = OpenStore();
  BlobKey key = store->Put("0123456789", "digits").value();
  EXPECT_EQ(ToString(store->ReadRange(key, 0, 4).value()), "0123");
  EXPECT_EQ(ToString(store->ReadRange(key, 8, 4).value()), "89");
  EXPECT_TRUE(store->ReadRange(key, 10, 4).value().empty());
  EXPECT_TRUE(store->ReadRange(key, 99, 4).value().empty());
}

TEST_F(BlobStoreTest, RemoveDeletesTheBlobAndUnknownKeysAreNotFound) {
  auto store = OpenStore();
  BlobKey key = store->Put("doomed", "x.so").value();
  ASSERT_TRUE(store->Remove(key));
  EXPECT_FALSE(store->Contains(key));
  EXPECT_FALSE(fs::exists(directory_ / key.hex()));
  for (auto error : {store->Remove(key).error(), store->Read(key).error(), store->Path(key).error(),
                     store->Info(key).error()}) {
    EXPECT_EQ(error.code, ServerErrc::kNotFound);
    EXPECT_NE(error.message.find(key.hex()), std::string::npos);
  }
  // Storing it again works.
  EXPECT_TRUE(store->Put("doomed", "x.so"));
  EXPECT_TRUE(store->Contains(key));
}

TEST_F(BlobStoreTest, ConcurrentPutsOfSameAndDifferentBytes) {
  auto store = OpenStore();
  constexpr int kThreads = 4;
  constexpr int kPutsPerThread = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPutsPerThread; ++i) {
        // Every thread puts the shared blobs 0..9 and its own blobs.
        const std::string bytes = i % 2 == 0 ? "shared " + std::to_string(i % 10)
                                             : "own " + std::to_string(t) + " " + std::to_string(i);
        auto key = store->Put(bytes, "lib.so");
        if (!key || store->Read(key.value()).value() !=
                        std::vector<std::byte>(
                            reinterpret_cast<const std::byte*>(bytes.data()),
                            reinterpret_cast<const std::byte*>(bytes.data()) + bytes.size())) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  // Shared: "shared 0", "shared 2", ... "shared 8" (5 blobs); own: 12 odd i per thread.
  EXPECT_EQ(store->List().size(), 5u + kThreads * 12u);
  size_t directories = 0;
  for (const auto& entry : fs::directory_iterator(directory_)) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".tmp-")) << entry.path();
    ++directories;
  }
  EXPECT_EQ(directories, store->List().size());
}

TEST_F(BlobStoreTest, OpenFailsClearlyWhenTheDirectoryCannotBeMade) {
  fs::create_directories(directory_);
  std::ofstream(directory_ / "a_file") << "x";
  auto store = BlobStore::Open(directory_ / "a_file" / "blobs", 100);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ServerErrc::kIo);
  EXPECT_NE(store.error().message.find("a_file"), std::string::npos);
}

}  // namespace
}  // namespace brook::server
