# fs_embed(TARGET_VAR SYMBOL FILE): generates a C source that holds FILE's
# bytes as `const char SYMBOL[]` (NUL-terminated) and `SYMBOL_len`, and
# appends its path to TARGET_VAR. Schemas and web assets ship inside the
# binaries this way, so a device needs nothing beside the executable.
function(fs_embed out_var symbol file)
  set(src ${CMAKE_CURRENT_BINARY_DIR}/embed_${symbol}.c)
  add_custom_command(
    OUTPUT ${src}
    COMMAND ${CMAKE_COMMAND} -DIN=${file} -DOUT=${src} -DSYM=${symbol}
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_gen.cmake
    DEPENDS ${file} ${PROJECT_SOURCE_DIR}/cmake/embed_gen.cmake
    COMMENT "Embedding ${file}")
  set(${out_var} ${${out_var}} ${src} PARENT_SCOPE)
endfunction()
