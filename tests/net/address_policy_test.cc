// The SSRF address rule over every range and over the odd spellings a resolver turns into them.
#include <cstring>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <opsorch/net/http_client.h>

namespace opsorch::net {
namespace {

using ::testing::HasSubstr;

sockaddr_storage Parse(const std::string& text) {
  sockaddr_storage storage{};
  auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, text.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
  } else if (inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
  } else {
    ADD_FAILURE() << "not an address: " << text;
  }
  return storage;
}

struct AddressCase {
  std::string address;
  std::string why;  // empty: allowed without allow_private
  bool allowed_when_private = true;
};

class AddressTable : public ::testing::TestWithParam<AddressCase> {};

TEST_P(AddressTable, Classifies) {
  const auto& c = GetParam();
  const sockaddr_storage storage = Parse(c.address);
  const auto* sa = reinterpret_cast<const sockaddr*>(&storage);
  std::string why = "unset";
  const bool allowed = AddressAllowed(sa, false, &why);
  if (c.why.empty()) {
    EXPECT_TRUE(allowed) << c.address << " denied as " << why;
    EXPECT_EQ(why, "");
  } else {
    EXPECT_FALSE(allowed) << c.address;
    EXPECT_THAT(why, HasSubstr(c.why)) << c.address;
  }
  EXPECT_EQ(AddressAllowed(sa, true, &why), c.allowed_when_private)
      << c.address << " with allow_private";
}

INSTANTIATE_TEST_SUITE_P(
    V4, AddressTable,
    ::testing::Values(
        AddressCase{"0.0.0.0", "unspecified", false}, AddressCase{"0.1.2.3", "unspecified", false},
        AddressCase{"10.0.0.1", "private"}, AddressCase{"10.255.255.255", "private"},
        AddressCase{"100.64.0.1", "cgnat"}, AddressCase{"100.127.255.255", "cgnat"},
        AddressCase{"127.0.0.1", "loopback"}, AddressCase{"127.255.255.254", "loopback"},
        AddressCase{"169.254.169.254", "link-local"}, AddressCase{"169.254.0.1", "link-local"},
        AddressCase{"172.16.0.1", "private"}, AddressCase{"172.31.255.255", "private"},
        AddressCase{"192.168.1.1", "private"}, AddressCase{"192.0.0.1", "reserved"},
        AddressCase{"198.18.0.1", "benchmarking"}, AddressCase{"224.0.0.1", "multicast", false},
        AddressCase{"239.255.255.250", "multicast", false},
        AddressCase{"240.0.0.1", "reserved", false},
        AddressCase{"255.255.255.255", "broadcast", false}, AddressCase{"93.184.216.34", ""},
        AddressCase{"8.8.8.8", ""}, AddressCase{"1.1.1.1", ""}, AddressCase{"9.255.255.255", ""},
        AddressCase{"11.0.0.0", ""}, AddressCase{"100.63.255.255", ""},
        AddressCase{"100.128.0.0", ""}, AddressCase{"126.255.255.255", ""},
        AddressCase{"128.0.0.0", ""}, AddressCase{"169.253.255.255", ""},
        AddressCase{"169.255.0.0", ""}, AddressCase{"172.15.255.255", ""},
        AddressCase{"172.32.0.0", ""}, AddressCase{"192.167.255.255", ""},
        AddressCase{"192.169.0.0", ""}, AddressCase{"223.255.255.255", ""}));

INSTANTIATE_TEST_SUITE_P(
    V6, AddressTable,
    ::testing::Values(
        AddressCase{"::", "unspecified", false}, AddressCase{"::1", "loopback"},
        AddressCase{"fe80::1", "link-local"}, AddressCase{"febf::1", "link-local"},
        AddressCase{"fec0::1", "site-local"}, AddressCase{"fc00::1", "unique-local"},
        AddressCase{"fd12:3456::1", "unique-local"}, AddressCase{"ff02::1", "multicast", false},
        AddressCase{"::ffff:127.0.0.1", "loopback"}, AddressCase{"::ffff:7f00:1", "loopback"},
        AddressCase{"::ffff:10.0.0.1", "private"},
        AddressCase{"::ffff:169.254.169.254", "link-local"},
        AddressCase{"::ffff:0.0.0.0", "unspecified", false}, AddressCase{"::127.0.0.1", "loopback"},
        AddressCase{"::a9fe:a9fe", "link-local"}, AddressCase{"64:ff9b::7f00:1", "loopback"},
        AddressCase{"64:ff9b::169.254.169.254", "link-local"},
        AddressCase{"64:ff9b::10.1.2.3", "private"}, AddressCase{"64:ff9b:1::1", "nat64 local-use"},
        AddressCase{"2002:7f00:1::1", "loopback"}, AddressCase{"2002:a9fe:a9fe::1", "link-local"},
        AddressCase{"2001:0:4136::1", "teredo"}, AddressCase{"100::1", "discard-only", false},
        AddressCase{"2606:2800:220:1:248:1893:25c8:1946", ""},
        AddressCase{"::ffff:93.184.216.34", ""}, AddressCase{"64:ff9b::5db8:d822", ""},
        AddressCase{"2002:5db8:d822::1", ""}, AddressCase{"2a00:1450:4001::200e", ""}));

TEST(AddressAllowed, RefusesOtherFamiliesAndNull) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::string why;
  EXPECT_FALSE(AddressAllowed(reinterpret_cast<const sockaddr*>(&un), true, &why));
  EXPECT_THAT(why, HasSubstr("family"));
  EXPECT_FALSE(AddressAllowed(nullptr, true, &why));
}

// What the system resolver makes of the spellings an attacker (or a rebinding DNS server) would
// use: every answer must be denied.
class SpellingTable : public ::testing::TestWithParam<std::string> {};

TEST_P(SpellingTable, ResolvesToADeniedAddress) {
  std::string host = GetParam();
  if (host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = host == "localhost" ? 0 : AI_NUMERICHOST;
  addrinfo* result = nullptr;
  ASSERT_EQ(getaddrinfo(host.c_str(), "80", &hints, &result), 0) << host;
  int count = 0;
  for (const addrinfo* ai = result; ai != nullptr; ai = ai->ai_next, ++count) {
    std::string why;
    EXPECT_FALSE(AddressAllowed(ai->ai_addr, false, &why)) << GetParam();
    EXPECT_FALSE(why.empty());
  }
  freeaddrinfo(result);
  EXPECT_GT(count, 0);
}

INSTANTIATE_TEST_SUITE_P(Table, SpellingTable,
                         ::testing::Values("2130706433", "0177.0.0.1", "0x7f.0.0.1", "127.1",
                                           "0x7f000001", "017700000001", "[::ffff:127.0.0.1]",
                                           "[::ffff:7f00:1]", "[::1]", "[0:0:0:0:0:0:0:1]",
                                           "169.254.169.254", "2852039166", "0xa9.0xfe.0xa9.0xfe",
                                           "localhost", "[fe80::1]", "10.1.2.3", "012.1.2.3",
                                           "192.168.0.1", "3232235521", "0", "0.0.0.0"));

TEST(SpellingTable, APublicAddressResolvesToAnAllowedOne) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* result = nullptr;
  ASSERT_EQ(getaddrinfo("93.184.216.34", "80", &hints, &result), 0);
  std::string why;
  EXPECT_TRUE(AddressAllowed(result->ai_addr, false, &why)) << why;
  freeaddrinfo(result);
}

}  // namespace
}  // namespace opsorch::net
