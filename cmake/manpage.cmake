# manpage.cmake - cmake -DPROG=BINARY -DIN=TEMPLATE -DOUT=PAGE
#   -DVERSION=V -P manpage.cmake
# Writes a manual page: TEMPLATE (roff) with @VERSION@ and with @HELP@
# replaced by the text of `BINARY --help`, escaped for roff and shown as
# it is (no filling), so the page lists every command the binary knows.
execute_process(COMMAND ${PROG} --help OUTPUT_VARIABLE help
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROG} --help exited ${rc}")
endif()
string(STRIP "${help}" help)
# roff: a backslash is \e; a line starting with . or ' is a request
# unless \& comes first; a hyphen in an option is \-.
string(REPLACE "\\" "\\e" help "${help}")
string(REPLACE "-" "\\-" help "${help}")
string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
file(READ ${IN} page)
string(REPLACE "@HELP@" "${help}" page "${page}")
string(REPLACE "@VERSION@" "${VERSION}" page "${page}")
file(WRITE ${OUT} "${page}")
