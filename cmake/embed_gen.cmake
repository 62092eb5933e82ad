file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR n "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT}
  "/* Generated from ${IN}; do not edit. */\n#include <stddef.h>\n"
  "extern const char ${SYM}[];\nextern const size_t ${SYM}_len;\n"
  "const char ${SYM}[] = {${body}0x00};\n"
  "const size_t ${SYM}_len = ${n};\n")
