/* Resolves argv[1] with getaddrinfo (IPv4, as the resolver in /etc/resolv.conf answers) and
 * prints the first address, or the resolver's error. Used by the DNS test in net.rs: the
 * guest's /etc/resolv.conf names 10.0.2.3, which the VMM forwards to the host's resolver
 * when the egress policy allows `dns`. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: net_resolve NAME\n");
        return 2;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    int r = getaddrinfo(argv[1], "80", &hints, &res);
    if (r != 0) {
        printf("getaddrinfo: %s\n", gai_strerror(r));
        return 1;
    }
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, text, sizeof text);
    printf("resolved %s\n", text);
    freeaddrinfo(res);
    return 0;
}
