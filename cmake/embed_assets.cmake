# Turns every file under DIR (hidden files left out) into a C source that
# defines web/assets.h's table:
#   const struct web_asset web_assets[] = {{"app.js", bytes, len, "\"etag\""}, ..., {0}};
# with each file as a byte array and its ETag the first 32 hex digits of
# its SHA-256. No external tool: file(READ ... HEX) does the work.
# Run as: cmake -DDIR=... -DOUT=... -P embed_assets.cmake
file(GLOB_RECURSE files LIST_DIRECTORIES false RELATIVE ${DIR} ${DIR}/*)
list(SORT files)
set(arrays "")
set(table "")
set(i 0)
foreach(name IN LISTS files)
  if(name MATCHES "(^|/)\\.")
    continue()
  endif()
  if(NOT name MATCHES "^[A-Za-z0-9._/-]+$")
    message(FATAL_ERROR "embed_assets: ${name}: asset names are letters, digits, '.', '_', '-' and '/'")
  endif()
  file(READ ${DIR}/${name} hex HEX)
  file(SHA256 ${DIR}/${name} sum)
  string(SUBSTRING ${sum} 0 32 etag)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  # 0x00 at the end: never an empty array, and text assets end in a NUL
  string(APPEND arrays "static const unsigned char asset_${i}[] = {${bytes}0x00};\n")
  string(APPEND table "    {\"${name}\", asset_${i}, ${len}, \"\\\"${etag}\\\"\"},\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE ${OUT} "/* Generated from ${DIR} by cmake/embed_assets.cmake. */\n"
  "#include \"web/assets.h\"\n\n${arrays}\n"
  "const struct web_asset web_assets[] = {\n${table}    {NULL, NULL, 0, NULL},\n};\n")
