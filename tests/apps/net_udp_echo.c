/* A UDP echo server on 0.0.0.0:PORT: every datagram goes back to its sender unchanged; the
 * datagram "quit" is answered "bye" and ends the server (status 0, after a summary line).
 * Usage: net_udp_echo PORT */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "net.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: net_udp_echo PORT\n");
        return 2;
    }
    int port = port_arg(argv[1]);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "bind: %s\n", net_errname(errno));
        return 1;
    }
    printf("listening on udp port %d\n", port);
    fflush(stdout);
    static char buf[65536];
    long datagrams = 0, bytes = 0;
    for (;;) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t r = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "recvfrom: %s\n", net_errname(errno));
            return 1;
        }
        if (r == 4 && memcmp(buf, "quit", 4) == 0) {
            sendto(s, "bye", 3, 0, (struct sockaddr *)&from, fromlen);
            break;
        }
        if (sendto(s, buf, r, 0, (struct sockaddr *)&from, fromlen) != r) {
            fprintf(stderr, "sendto: %s\n", net_errname(errno));
            return 1;
        }
        datagrams++;
        bytes += r;
    }
    printf("echoed %ld datagrams, %ld bytes\n", datagrams, bytes);
    return 0;
}
