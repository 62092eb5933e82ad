# CMake toolchain file: armhf (32-bit ARMv7 with hardware floating point,
# e.g. a Raspberry Pi 2/3 on a 32-bit OS, old Android tablets) with
# Debian's gcc-arm-linux-gnueabihf.
#   cmake -S . -B build/armhf \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-arm-linux-gnueabihf.cmake
# scripts/test-cross installs what it needs and runs the tests under qemu.
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(FS_CROSS_TRIPLET arm-linux-gnueabihf)
set(FS_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/cross-debian.cmake)
# CMakeLists.txt adds _TIME_BITS=64 for a 32-bit target like this one.
