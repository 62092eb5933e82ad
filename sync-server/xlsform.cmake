# fsxlsform - XLSForm in (xlsx.c, xlsexpr.c, xlsform.c) and XForm out
# (xform.c): a library of its own on the protocol library, libzip and
# expat, so that the fuzz build (tests/fuzz) links it without the rest of
# the hub. Included by sync-server/CMakeLists.txt and tests/fuzz.
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
pkg_check_modules(EXPAT REQUIRED IMPORTED_TARGET expat)
set(fs_xlsform_dir ${CMAKE_CURRENT_LIST_DIR})
add_library(fsxlsform STATIC
  ${fs_xlsform_dir}/langs.c
  ${fs_xlsform_dir}/xlsx.c
  ${fs_xlsform_dir}/xlsexpr.c
  ${fs_xlsform_dir}/xlsform.c
  ${fs_xlsform_dir}/xform.c
)
target_include_directories(fsxlsform PUBLIC ${fs_xlsform_dir})
target_link_libraries(fsxlsform PUBLIC fsprotocol PkgConfig::LIBZIP
                      PkgConfig::EXPAT m)
