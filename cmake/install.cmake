# install.cmake - what `cmake --install` puts where (GNUInstallDirs), by
# component: "hub" and "agent" (the Debian packages of the same names,
# scripts/package). The manual pages are installed by man/CMakeLists.txt.
install(TARGETS fieldsync-hub RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        COMPONENT hub)
install(TARGETS fieldsync-agent RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        COMPONENT agent)

# The hub's service: the systemd unit, its options file, and the TLS
# terminator configurations as examples (deploy/README.md).
set(FS_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where the systemd unit goes, relative to the prefix (or absolute)")
install(FILES deploy/systemd/fieldsync-hub.service
        DESTINATION ${FS_SYSTEMD_UNIT_DIR} COMPONENT hub)
install(FILES deploy/systemd/fieldsync-hub.default
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/default
        RENAME fieldsync-hub COMPONENT hub)
set(FS_EXAMPLES_DIR ${CMAKE_INSTALL_DATADIR}/doc/fieldsync-hub/examples)
install(FILES deploy/stunnel/fieldsync-hub.conf
        DESTINATION ${FS_EXAMPLES_DIR}/stunnel COMPONENT hub)
install(FILES deploy/nginx/fieldsync-hub.conf
        DESTINATION ${FS_EXAMPLES_DIR}/nginx COMPONENT hub)
install(FILES deploy/README.md DESTINATION ${FS_EXAMPLES_DIR}
        COMPONENT hub)

# The embeddable agent (README, "Embedding the agent"): the shared library
# in component "agent-lib" (libfieldsync-agent0), its header, the .so link
# and the pkg-config file in "agent-dev" (libfieldsync-agent-dev).
# The .pc file finds the prefix from where it lies, so that a tree
# installed with `cmake --install --prefix DIR` builds against DIR.
file(RELATIVE_PATH FS_PC_UP /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
set(FS_PC_PREFIX "\${pcfiledir}/${FS_PC_UP}")
configure_file(field-agent/fieldsync-agent.pc.in
               ${CMAKE_CURRENT_BINARY_DIR}/fieldsync-agent.pc @ONLY)
install(TARGETS fieldsync-agent-shared
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT agent-lib
                NAMELINK_COMPONENT agent-dev
        PUBLIC_HEADER DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
                      COMPONENT agent-dev)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/fieldsync-agent.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT agent-dev)
