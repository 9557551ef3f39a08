// Messaging value types (contract §7).
#pragma once

#include <string>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/time.h>

namespace opsorch::schema {

struct Block {
  std::string type;  // header|section|divider
  std::string text;  // ? CommonMark
  StringMap fields;  // ?
};

struct Message {
  std::string channel;
  std::string body;
  JsonObject metadata;        // ?
  std::string thread_ref;     // threadRef?
  std::vector<Block> blocks;  // ?
};

struct MessageResult {
  std::string id;
  std::string channel;
  Time sent_at;         // sentAt
  std::string url;      // ?
  JsonObject metadata;  // ?
};

}  // namespace opsorch::schema
