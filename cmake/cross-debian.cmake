# cross-debian.cmake - the part the toolchain files share: a Debian cross
# compiler for FS_CROSS_TRIPLET and the target's libraries, either
#  - in a sysroot made by scripts/cross-sysroot (-DFS_CROSS_SYSROOT=DIR),
#    what scripts/test-cross uses, or
#  - installed on this machine as multiarch packages (libsqlite3-dev:ARCH
#    and the rest after `dpkg --add-architecture ARCH`), without it.
# Included by toolchain-aarch64-linux-gnu.cmake and
# toolchain-arm-linux-gnueabihf.cmake.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${FS_CROSS_TRIPLET}-gcc)
# Debian puts the target's libraries and CMake package files under
# /usr/lib/TRIPLET, its headers under /usr/include (and /usr/include/TRIPLET
# for the few that differ), which the cross compiler searches itself.
set(CMAKE_LIBRARY_ARCHITECTURE ${FS_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# try_compile projects read this file again: pass the sysroot on.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES FS_CROSS_SYSROOT)

# pkg-config must read the target's .pc files only: the build machine's
# would hand out x86-64 library paths. Set in the environment because
# FindPkgConfig runs pkg-config as a child process.
if(FS_CROSS_SYSROOT)
  set(CMAKE_SYSROOT ${FS_CROSS_SYSROOT})
  set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
  set(ENV{PKG_CONFIG_SYSROOT_DIR} ${FS_CROSS_SYSROOT})
  set(ENV{PKG_CONFIG_LIBDIR}
      ${FS_CROSS_SYSROOT}/usr/lib/${FS_CROSS_TRIPLET}/pkgconfig:${FS_CROSS_SYSROOT}/usr/share/pkgconfig)
  # ctest runs the target's programs through qemu-user with the
  # sysroot's loader and libraries.
  set(CMAKE_CROSSCOMPILING_EMULATOR ${FS_CROSS_QEMU} -L ${FS_CROSS_SYSROOT})
else()
  set(ENV{PKG_CONFIG_LIBDIR}
      /usr/lib/${FS_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
  # qemu-user finds the target's loader where libc6:ARCH puts it
  # (/lib/ld-linux-*.so). Not -L /usr/TRIPLET: that copy of the C library
  # (the cross compiler's) with the multiarch libraries hung qemu 7.2 in
  # the first pthread_create.
  set(CMAKE_CROSSCOMPILING_EMULATOR ${FS_CROSS_QEMU})
endif()
set(ENV{PKG_CONFIG_PATH} "")
