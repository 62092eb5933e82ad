# CMake toolchain file: arm64 (64-bit ARM, e.g. a Raspberry Pi 4 or 5 on a
# 64-bit OS, most Android tablets) with Debian's gcc-aarch64-linux-gnu.
#   cmake -S . -B build/arm64 \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake
# scripts/test-cross installs what it needs and runs the tests under qemu.
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(FS_CROSS_TRIPLET aarch64-linux-gnu)
set(FS_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/cross-debian.cmake)
