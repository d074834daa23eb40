#include "brook/jobs/job_library.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

// Paths of the libraries under test, from tests/jobs/CMakeLists.txt.
#ifndef BROOK_CLICKSTREAM_JOB
#error "BROOK_CLICKSTREAM_JOB must name examples' libclickstream.so"
#endif

namespace brook {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "brook-job-library-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

// Loads `path`, expecting a refusal with `code`; returns the message.
std::string Refusal(const std::string& path, JobLibraryErrc code) {
  auto loaded = JobLibrary::Load(path);
  if (loaded.ok()) {
    ADD_FAILURE() << path << " loaded, expected " << JobLibraryErrcName(code);
    return "";
  }
  EXPECT_EQ(loaded.error().code, code)
      << JobLibraryErrcName(loaded.error().code) << ": " << loaded.error().message;
  return loaded.error().message;
}

std::vector<std::string> VertexNames(const JobGraph& graph) {
  std::vector<std::string> names;
  for (const auto& vertex : graph.vertices()) names.push_back(vertex.name);
  return names;
}

TEST(JobLibrary, LoadsTheClickstreamExampleAndBuildsItsGraph) {
  auto loaded = JobLibrary::Load(BROOK_CLICKSTREAM_JOB);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const JobLibrary& library = loaded.value();
  EXPECT_EQ(library.name(), "clickstream");
  EXPECT_EQ(library.brook_version(), kBrookVersion);
  EXPECT_EQ(library.entry().abi_version, kJobAbiVersion);
  EXPECT_TRUE(fs::path(library.path()).is_absolute());

  JobGraph graph = BuildJobGraph(library, JobArgs({"--events", "100"}), 2);
  EXPECT_EQ(graph.name(), "clickstream");
  EXPECT_EQ(VertexNames(graph),
            (std::vector<std::string>{
                "Source: clickstream -> to user counts -> clicks and carts -> to item counts",
                "events per user", "Sink: top users", "interactions per item", "Sink: top items"}));
  EXPECT_EQ(graph.vertices()[0].parallelism, 2);
  EXPECT_EQ(graph.vertices()[2].parallelism, 1);  // the job's own setParallelism(1) wins
  EXPECT_TRUE(graph.InputsOf(VertexId(0)).empty());
}

TEST(JobLibrary, GraphBuildingIsDeterministicAcrossLoads) {
  auto first = JobLibrary::Load(BROOK_CLICKSTREAM_JOB);
  auto second = JobLibrary::Load(BROOK_CLICKSTREAM_JOB);
  ASSERT_TRUE(first.ok() && second.ok());
  JobGraph a = BuildJobGraph(first.value(), JobArgs(), 3);
  JobGraph b = BuildJobGraph(second.value(), JobArgs(), 3);
  EXPECT_EQ(a.Describe(), b.Describe());
}

TEST(JobLibrary, AMovedLibraryKeepsItsCodeLoaded) {
  auto loaded = JobLibrary::Load(BROOK_CLICKSTREAM_JOB);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  JobLibrary library = std::move(loaded).value();
  JobLibrary moved = std::move(library);
  JobGraph graph = BuildJobGraph(moved, JobArgs(), 2);
  EXPECT_EQ(graph.vertices().size(), 5u);
}

TEST(JobLibrary, RefusesALibraryBuiltWithoutBrookJob) {
  std::string message = Refusal(BROOK_TEST_JOB_NO_ENTRY, JobLibraryErrc::kNoEntryPoint);
  EXPECT_THAT(message, AllOf(HasSubstr(BROOK_TEST_JOB_NO_ENTRY), HasSubstr("not a Brook job"),
                             HasSubstr("brook_job_entry"), HasSubstr("built without BROOK_JOB?")));
}

// A truncated upload must be refused, never crash the loading process: the dynamic loader maps
// segments past the end of a file without complaint and dies of SIGBUS touching them. Cuts
// are inside the ELF header, after the headers (every segment missing) and inside the code.
// (Half the example's bytes would still load: most of an unstripped library is debug
// information, which the loader never reads.)
TEST(JobLibrary, RefusesATruncatedLibraryWithAClearReason) {
  TempDir dir;
  std::string bytes = ReadFile(BROOK_CLICKSTREAM_JOB);
  ASSERT_GT(bytes.size(), 65536u);
  for (size_t size : {size_t{40}, size_t{1000}, size_t{65536}}) {
    SCOPED_TRACE("truncated to " + std::to_string(size) + " bytes");
    fs::path truncated = dir.path() / ("libclickstream-" + std::to_string(size) + ".so");
    WriteFile(truncated, bytes.substr(0, size));
    std::string message = Refusal(truncated.string(), JobLibraryErrc::kNotLoadable);
    EXPECT_THAT(message,
                AllOf(HasSubstr(truncated.string()), HasSubstr("not a loadable shared library (")));
    // The reason follows: "file too short", or which segment ends past the end of the file.
    EXPECT_THAT(message, ::testing::AnyOf(HasSubstr("file too short"),
                                          HasSubstr("past the end of the file")));
  }
}

TEST(JobLibrary, RefusesAFileThatIsNotALibrary) {
  TempDir dir;
  fs::path text = dir.path() / "job.so";
  WriteFile(text, "BROOK_JOB(nope) {}\n");
  EXPECT_THAT(Refusal(text.string(), JobLibraryErrc::kNotLoadable),
              AllOf(HasSubstr("not a loadable shared library"), HasSubstr("too short")));
  WriteFile(text, std::string(4096, 'x'));
  EXPECT_THAT(Refusal(text.string(), JobLibraryErrc::kNotLoadable),
              AllOf(HasSubstr("not a loadable shared library"), HasSubstr("invalid ELF header")));
}

TEST(JobLibrary, RefusesAMissingFileWithoutSearchingTheLibraryPath) {
  TempDir dir;
  EXPECT_THAT(Refusal((dir.path() / "libmissing.so").string(), JobLibraryErrc::kNotFound),
              AllOf(HasSubstr("libmissing.so"), HasSubstr("no such file")));
  // A bare name is a file in the working directory, never a library found in the search path.
  std::string message = Refusal("libc.so.6", JobLibraryErrc::kNotFound);
  EXPECT_THAT(message, HasSubstr((fs::current_path() / "libc.so.6").string()));
}

TEST(JobLibrary, RefusesADirectory) {
  TempDir dir;
  EXPECT_THAT(Refusal(dir.path().string(), JobLibraryErrc::kNotLoadable),
              HasSubstr("not a regular file"));
}

TEST(JobLibrary, RefusesAnEntryPointThatReturnsNoEntry) {
  EXPECT_THAT(Refusal(BROOK_TEST_JOB_NULL_ENTRY, JobLibraryErrc::kInvalidEntry),
              AllOf(HasSubstr("not a usable Brook job"), HasSubstr("returned no entry")));
}

TEST(JobLibrary, RefusesAnotherJobAbiBeforeReadingTheRestOfTheEntry) {
  std::string expected = "built against Brook job ABI " + std::to_string(kJobAbiVersion + 1) +
                         ", this runtime speaks " + std::to_string(kJobAbiVersion);
  EXPECT_THAT(Refusal(BROOK_TEST_JOB_ABI_MISMATCH, JobLibraryErrc::kAbiMismatch),
              AllOf(HasSubstr(BROOK_TEST_JOB_ABI_MISMATCH), HasSubstr(expected)));
}

TEST(JobLibrary, RefusesAJobBuiltAgainstAnotherBrookRelease) {
  EXPECT_THAT(Refusal(BROOK_TEST_JOB_VERSION_MISMATCH, JobLibraryErrc::kVersionMismatch),
              AllOf(HasSubstr("job 'old_job'"), HasSubstr("built against Brook 0.0.0-test"),
                    HasSubstr(std::string("this runtime is Brook ") + kBrookVersion)));
}

TEST(JobLibraryDeathTest, ValueOfARefusalAbortsWithItsMessage) {
  EXPECT_DEATH(
      {
        auto loaded = JobLibrary::Load("/nonexistent/libjob.so");
        (void)loaded.value();
      },
      "no such file");
}

}  // namespace
}  // namespace brook
