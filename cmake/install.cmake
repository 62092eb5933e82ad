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
