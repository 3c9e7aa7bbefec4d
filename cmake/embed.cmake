# Embeds a file as a C byte array: cmake -DINPUT=f -DOUTPUT=f.c -DNAME=sym -P embed.cmake
# Produces `const unsigned char NAME[]` (null-terminated) and `const size_t NAME_size`.
file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
file(WRITE "${OUTPUT}" "/* Generated from ${INPUT} by cmake/embed.cmake: do not edit. */\n#include <stddef.h>\nconst unsigned char ${NAME}[] = {\n${bytes}0x00 };\nconst size_t ${NAME}_size = ${size};\n")
