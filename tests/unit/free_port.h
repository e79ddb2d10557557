/*
** free_port.h: a TCP port on 127.0.0.1 that was free a moment ago, for
** the tests, the integration programs and the bench that start servers
** (redis-server, VictoriaMetrics, a receiver) on a port of their own. The
** kernel picks it (bind to port 0); it may be taken again before the
** server binds it, which the starters handle by trying once more.
*/
#ifndef AM_FREE_PORT_H
#define AM_FREE_PORT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* The port, or -1 (no socket, nothing to bind). */
static inline int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

#endif
