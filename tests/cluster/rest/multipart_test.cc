#include "brook/cluster/rest/multipart.h"

#include <gtest/gtest.h>

namespace brook::http {
namespace {

constexpr char kType[] = "multipart/form-data; boundary=XyZ";

TEST(Multipart, RoundTripsAFileWithBinaryContent) {
  std::string data("\0\r\n--\xff binary \r\n", 16);
  data += std::string(100000, 'x');
  auto encoded = EncodeMultipartFile("jarfile", "job.so", data);
  std::string error;
  auto parts = ParseMultipartFormData(encoded.content_type, encoded.body, &error);
  ASSERT_TRUE(parts) << error;
  ASSERT_EQ(parts->size(), 1u);
  const MultipartPart* part = FindPart(*parts, "jarfile");
  ASSERT_NE(part, nullptr);
  EXPECT_EQ(part->filename, "job.so");
  EXPECT_EQ(part->content_type, "application/octet-stream");
  EXPECT_EQ(part->data, data);
  EXPECT_EQ(FindPart(*parts, "other"), nullptr);
}

TEST(Multipart, BoundaryNeverOccursInTheData) {
  auto first = EncodeMultipartFile("f", "a", "data");
  std::string boundary = first.content_type.substr(first.content_type.find('=') + 1);
  // Data that holds the boundary of an earlier encoding still round-trips.
  auto encoded = EncodeMultipartFile("f", "a", "--" + boundary + "--\r\n");
  auto parts = ParseMultipartFormData(encoded.content_type, encoded.body, nullptr);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->at(0).data, "--" + boundary + "--\r\n");
}

TEST(Multipart, QuotesAndEscapesFileNames) {
  auto encoded = EncodeMultipartFile("f", "we\"ird\\name\r\n.so", "x");
  auto parts = ParseMultipartFormData(encoded.content_type, encoded.body, nullptr);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->at(0).filename, "we\"ird\\name.so");
}

TEST(Multipart, ParsesSeveralPartsWithPreambleAndEpilogue) {
  std::string body =
      "preamble to ignore\r\n"
      "--XyZ\r\n"
      "Content-Disposition: form-data; name=\"text\"\r\n"
      "\r\n"
      "hello\r\n"
      "--XyZ  \r\n"
      "content-disposition: FORM-DATA; name=file; filename=\"a.bin\"\r\n"
      "Content-Type: application/x-thing\r\n"
      "\r\n"
      "\r\n--Xy not the boundary\r\n"
      "--XyZ--\r\n"
      "epilogue";
  std::string error;
  auto parts = ParseMultipartFormData("Multipart/Form-Data; charset=utf-8; boundary=\"XyZ\"", body,
                                      &error);
  ASSERT_TRUE(parts) << error;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ(parts->at(0).name, "text");
  EXPECT_EQ(parts->at(0).data, "hello");
  EXPECT_EQ(parts->at(0).filename, "");
  EXPECT_EQ(parts->at(1).name, "file");
  EXPECT_EQ(parts->at(1).filename, "a.bin");
  EXPECT_EQ(parts->at(1).content_type, "application/x-thing");
  EXPECT_EQ(parts->at(1).data, "\r\n--Xy not the boundary");
}

TEST(Multipart, RefusesWrongContentTypeOrBoundary) {
  std::string error;
  EXPECT_FALSE(ParseMultipartFormData("application/json", "{}", &error));
  EXPECT_NE(error.find("multipart/form-data"), std::string::npos);
  EXPECT_FALSE(ParseMultipartFormData("multipart/form-data", "", &error));
  EXPECT_FALSE(ParseMultipartFormData("multipart/form-data; boundary=", "", &error));
  EXPECT_FALSE(ParseMultipartFormData("multipart/form-data; boundary=" + std::string(71, 'a'), "",
                                      &error));
  EXPECT_FALSE(ParseMultipartFormData("multipart/form-data; boundary=a\"b", "", &error));
  EXPECT_FALSE(ParseMultipartFormData("multipart/form-data; boundary=\"unterminated", "", &error));
}

TEST(Multipart, RefusesMalformedBodies) {
  auto parse = [](const std::string& body) {
    std::string error;
    auto parts = ParseMultipartFormData(kType, body, &error);
    EXPECT_FALSE(error.empty() && !parts);
    return parts.has_value();
  };
  const std::string part = "Content-Disposition: form-data; name=\"f\"\r\n\r\ndata";
  EXPECT_TRUE(parse("--XyZ\r\n" + part + "\r\n--XyZ--"));
  EXPECT_FALSE(parse("no boundary at all"));
  EXPECT_FALSE(parse("--XyZ\r\n" + part));                         // no closing delimiter
  EXPECT_FALSE(parse("--XyZ\r\n" + part + "\r\n--XyZ"));           // closing without "--"
  EXPECT_FALSE(parse("--XyZjunk\r\n" + part + "\r\n--XyZ--"));     // junk after the delimiter
  EXPECT_FALSE(parse("--XyZ\r\n\r\ndata\r\n--XyZ--"));             // no headers
  EXPECT_FALSE(parse("--XyZ\r\nContent-Type: x\r\n\r\nd\r\n--XyZ--"));  // no disposition
  EXPECT_FALSE(parse("--XyZ\r\nContent-Disposition: form-data\r\n\r\nd\r\n--XyZ--"));  // no name
  EXPECT_FALSE(parse("--XyZ\r\nContent-Disposition: attachment; name=f\r\n\r\nd\r\n--XyZ--"));
  EXPECT_FALSE(parse("--XyZ\r\nno colon here\r\n\r\nd\r\n--XyZ--"));
  EXPECT_FALSE(parse("--XyZ\r\nContent-Disposition: form-data; name=f\r\n"));  // headers unended
  EXPECT_FALSE(parse("--XyZ\r\nX: " + std::string(9000, 'a') + "\r\n\r\nd\r\n--XyZ--"));
}

}  // namespace
}  // namespace brook::http
