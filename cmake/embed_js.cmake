# Turns a JavaScript file into a C source defining
#   const char <NAME>[]; const size_t <NAME>_len;
# with its block comments, indentation and line breaks taken out (the
# tracker's readable source stays in the repository; what browsers get is
# small). Run as: cmake -DIN=... -DOUT=... -DNAME=... -P embed_js.cmake
file(READ ${IN} js)
string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" js "${js}")
string(REGEX REPLACE "\n[ ]+" "\n" js "${js}")
string(REGEX REPLACE "\n+" "" js "${js}")
string(LENGTH "${js}" len)
file(WRITE ${OUT}.tmp "${js}")
file(READ ${OUT}.tmp hex HEX)
file(REMOVE ${OUT}.tmp)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* Generated from ${IN} by cmake/embed_js.cmake. */\n#include <stddef.h>\n"
  "const char ${NAME}[] = {${bytes}0x00};\nconst size_t ${NAME}_len = ${len};\n")
