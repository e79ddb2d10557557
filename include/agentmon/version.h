/*
** version.h: the version of libagentmon this header describes.
**
** AM_VERSION_HEX orders releases: 0x00MMmmpp. am_version() reports the
** version of the library actually linked, which may differ from the header.
*/
#ifndef AGENTMON_VERSION_H
#define AGENTMON_VERSION_H

#define AM_VERSION_MAJOR 0
#define AM_VERSION_MINOR 3
#define AM_VERSION_PATCH 0
#define AM_VERSION_STRING "0.3.0"
#define AM_VERSION_HEX ((AM_VERSION_MAJOR << 16) | (AM_VERSION_MINOR << 8) | AM_VERSION_PATCH)

#endif
