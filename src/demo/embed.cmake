# cmake -DIN=file -DOUT=file.cc -DNAME=symbol -P embed.cmake: the bytes of IN as a C++ array (the
# demo world is data, not code; a raw string literal would break on its own delimiter).
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp" "// Generated from ${IN} by embed.cmake: do not edit.\n#include <cstddef>\n\nnamespace opsorch::demo {\n\nextern const unsigned char ${NAME}[] = {\n${bytes}0x00};\nextern const std::size_t ${NAME}Size = ${size};\n\n}  // namespace opsorch::demo\n")
file(RENAME "${OUT}.tmp" "${OUT}")
