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

// The operator's allow-list: parsing (errors name the entry and the rule) and matching.
struct NetListCase {
  std::string text;
  std::string error;  // empty: parses
  std::string canonical;
};

class NetListParseTable : public ::testing::TestWithParam<NetListCase> {};

TEST_P(NetListParseTable, Parses) {
  const auto& c = GetParam();
  auto list = ParseNetList(c.text);
  if (c.error.empty()) {
    ASSERT_TRUE(list) << c.text << ": " << list.error().message;
    EXPECT_EQ(list->canonical(), c.canonical);
  } else {
    ASSERT_FALSE(list) << c.text;
    EXPECT_EQ(list.error().code, ErrorCode::kBadRequest);
    EXPECT_THAT(list.error().message, HasSubstr(c.error)) << c.text;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, NetListParseTable,
    ::testing::Values(
        NetListCase{"", "", ""}, NetListCase{"  ", "", ""},
        NetListCase{"127.0.0.0/8, ::1/128, 10.1.0.0/16", "", "127.0.0.0/8,::1/128,10.1.0.0/16"},
        NetListCase{"10.1.2.3", "", "10.1.2.3/32"}, NetListCase{"fd00::1", "", "fd00::1/128"},
        NetListCase{"10.0.0.0/8 192.168.0.0/16", "", "10.0.0.0/8,192.168.0.0/16"},
        NetListCase{"FD00:0::/8", "", "fd00::/8"}, NetListCase{"0.0.0.0/0", "", "0.0.0.0/0"},
        NetListCase{"10.1.2.3/16", "\"10.1.2.3/16\": has address bits set beyond the prefix"},
        NetListCase{"10.0.0.0/33", "\"10.0.0.0/33\": prefix length must be 0..32 for IPv4"},
        NetListCase{"::/129", "\"::/129\": prefix length must be 0..128 for IPv6"},
        NetListCase{"10.0.0.0/", "prefix length must be 0..32"},
        NetListCase{"10.0.0.0/8x", "prefix length must be 0..32"},
        NetListCase{"10.0.0.0/-1", "prefix length must be 0..32"},
        NetListCase{"10.0.0.0/0008", "prefix length must be 0..32"},
        NetListCase{"localhost", "\"localhost\": must be an IPv4 or IPv6 address"},
        NetListCase{"10.0.0/8", "\"10.0.0/8\": must be an IPv4 or IPv6 address"},
        NetListCase{"127.0.0.0/8,,::1", "empty entry"}, NetListCase{",127.0.0.0/8", "empty entry"},
        NetListCase{"127.0.0.0/8,", "empty entry"}));

struct AllowCase {
  std::string list;
  std::string address;
  bool allowed;
  std::string why;  // when refused
};

class AllowListTable : public ::testing::TestWithParam<AllowCase> {};

TEST_P(AllowListTable, AllowsListedPrivatePeersOnly) {
  const auto& c = GetParam();
  auto list = ParseNetList(c.list);
  ASSERT_TRUE(list) << list.error().message;
  const sockaddr_storage storage = Parse(c.address);
  const auto* sa = reinterpret_cast<const sockaddr*>(&storage);
  std::string why = "unset";
  EXPECT_EQ(AddressAllowed(sa, false, &*list, &why), c.allowed) << c.list << " / " << c.address;
  if (c.allowed) {
    EXPECT_EQ(why, "");
  } else {
    EXPECT_THAT(why, HasSubstr(c.why));
  }
  // Without the list the private peers are refused; with allow_private the list changes nothing.
  std::string plain_why;
  const bool plain = AddressAllowed(sa, false, &plain_why);
  EXPECT_EQ(AddressAllowed(sa, false, nullptr, &why), plain);
  EXPECT_EQ(AddressAllowed(sa, true, &*list, &why), AddressAllowed(sa, true, &why));
}

INSTANTIATE_TEST_SUITE_P(
    Table, AllowListTable,
    ::testing::Values(
        AllowCase{"127.0.0.0/8", "127.0.0.1", true}, AllowCase{"127.0.0.0/8", "127.9.9.9", true},
        AllowCase{"127.0.0.1", "127.0.0.2", false, "loopback"},
        AllowCase{"127.0.0.0/8", "::1", false, "loopback"}, AllowCase{"::1", "::1", true},
        AllowCase{"127.0.0.0/8", "::ffff:127.0.0.1", true},  // dual-stack view of the v4 host
        AllowCase{"127.0.0.0/8", "64:ff9b::7f00:1", false, "loopback"},  // NAT64: another host
        AllowCase{"127.0.0.0/8", "2002:7f00:1::1", false, "loopback"},
        AllowCase{"10.1.0.0/16", "10.1.255.1", true},
        AllowCase{"10.1.0.0/16", "10.2.0.1", false, "private"},
        AllowCase{"10.1.0.0/17", "10.1.128.1", false, "private"},
        AllowCase{"10.1.0.0/17", "10.1.127.1", true},
        AllowCase{"169.254.169.254/32", "169.254.169.254", true},
        AllowCase{"169.254.169.254/32", "169.254.169.253", false, "link-local"},
        AllowCase{"fd00::/8", "fd12::1", true}, AllowCase{"fd00::/8", "fc00::1", false, "unique"},
        AllowCase{"fe80::/10", "febf::1", true}, AllowCase{"0.0.0.0/0", "192.168.1.1", true},
        // Never-allowed ranges stay refused even when listed.
        AllowCase{"0.0.0.0/0", "0.0.0.0", false, "unspecified"},
        AllowCase{"0.0.0.0/0", "224.0.0.1", false, "multicast"},
        AllowCase{"0.0.0.0/0", "255.255.255.255", false, "broadcast"},
        AllowCase{"240.0.0.0/4", "240.0.0.1", false, "reserved"},
        AllowCase{"::/0", "::", false, "unspecified"},
        AllowCase{"::/0", "ff02::1", false, "multicast"},
        AllowCase{"::/0", "127.0.0.1", false, "loopback"},
        // Public peers are allowed with or without a list.
        AllowCase{"10.0.0.0/8", "8.8.8.8", true}, AllowCase{"", "8.8.8.8", true},
        AllowCase{"", "127.0.0.1", false, "loopback"}));

TEST(NetList, NullAddressIsNotContained) {
  auto list = ParseNetList("0.0.0.0/0, ::/0");
  ASSERT_TRUE(list);
  EXPECT_FALSE(list->Contains(nullptr));
  std::string why;
  EXPECT_FALSE(AddressAllowed(nullptr, false, &*list, &why));
}

}  // namespace
}  // namespace opsorch::net
