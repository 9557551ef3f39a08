// Encrypted bootstrap strings: enc1:<key id>:<base64url(nonce | secretbox)>.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/workflow/package.h>

namespace opsorch::workflow::package {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

TEST(EncryptedStrings, RoundTrip) {
  const SecretKey key = GenerateKey(KeyPurpose::kString);
  for (const std::string& plain :
       {std::string(), std::string("hunter2"), std::string("caf\xc3\xa9 \n\t"),
        std::string("\0\xff", 2), std::string(10000, 'x')}) {
    auto enc = EncryptString(plain, key);
    ASSERT_TRUE(enc) << enc.error().message;
    EXPECT_TRUE(IsEncryptedString(*enc));
    EXPECT_THAT(*enc, MatchesRegex("enc1:" + StringKeyId(key) + ":[A-Za-z0-9_-]+"));
    auto dec = DecryptString(*enc, key);
    ASSERT_TRUE(dec) << dec.error().message;
    EXPECT_EQ(*dec, plain);
  }
  EXPECT_NE(*EncryptString("x", key), *EncryptString("x", key));  // a fresh nonce each time
}

TEST(EncryptedStrings, KeyIdIsEightHexDigits) {
  const SecretKey key = GenerateKey(KeyPurpose::kString);
  EXPECT_THAT(StringKeyId(key), MatchesRegex("[0-9a-f]{8}"));
  EXPECT_EQ(StringKeyId(key), StringKeyId(*ParseSecretKey(key.Text())));
}

TEST(EncryptedStrings, WrongKeyIsNamed) {
  const SecretKey a = GenerateKey(KeyPurpose::kString), b = GenerateKey(KeyPurpose::kString);
  auto dec = DecryptString(*EncryptString("secret", a), b);
  ASSERT_FALSE(dec);
  EXPECT_EQ(dec.error().message,
            "encrypted with key " + StringKeyId(a) + ", not with this key " + StringKeyId(b));
}

TEST(EncryptedStrings, TamperedIsRefused) {
  const SecretKey key = GenerateKey(KeyPurpose::kString);
  const std::string enc = *EncryptString("secret value", key);
  for (std::size_t i = 14; i < enc.size(); ++i) {
    std::string t = enc;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    auto dec = DecryptString(t, key);
    // The last character carries padding bits only in part; a change there may be refused as
    // non-canonical base64 instead.
    ASSERT_FALSE(dec) << i;
    EXPECT_THAT(dec.error().message,
                ::testing::AnyOf(HasSubstr("does not decrypt"), HasSubstr("not base64url")))
        << i;
  }
}

TEST(EncryptedStrings, MalformedIsRefusedWithTheRule) {
  const SecretKey key = GenerateKey(KeyPurpose::kString);
  const std::string id = StringKeyId(key);
  const std::string body = EncryptString("x", key)->substr(14);
  struct Row {
    std::string text;
    std::string fragment;
  };
  const std::vector<Row> rows = {
      {"plain", "does not start with \"enc1:\""},
      {"enc1:", "expected enc1:<8 hex digits key id>:<base64url>"},
      {"enc1:" + id, "expected enc1:"},
      {"enc1:abc:" + body, "expected enc1:"},
      {"enc1:ABCDEF01:" + body, "8 lower-case hex digits"},
      {"enc1:" + id + ":" + body + "=", "not base64url"},
      {"enc1:" + id + ":" + body + "+", "not base64url"},
      {"enc1:" + id + ":a b", "not base64url"},
      {"enc1:" + id + ":", "too short"},
      {"enc1:" + id + ":AAAA", "too short"},
  };
  for (const Row& r : rows) {
    auto dec = DecryptString(r.text, key);
    ASSERT_FALSE(dec) << r.text;
    EXPECT_THAT(dec.error().message, HasSubstr(r.fragment)) << r.text;
  }
}

TEST(EncryptedStrings, OnlyStringKeysEncrypt) {
  const SecretKey sign = GenerateKey(KeyPurpose::kSign);
  auto enc = EncryptString("x", sign);
  ASSERT_FALSE(enc);
  EXPECT_THAT(enc.error().message, HasSubstr("not a string key (a sign key)"));
  EXPECT_FALSE(DecryptString("enc1:00000000:AAAA", GenerateKey(KeyPurpose::kRecipient)));
}

}  // namespace
}  // namespace opsorch::workflow::package
