/* 500 TCP connections over the VM's own loopback, each with a byte each way, in a VM of
 * 16 MiB: the guest kernel must run short of speed (sockets without rings), never of memory
 * for its own tables. Prints "500 connections" when all were made. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(9000)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 1024) != 0) {
        printf("listen: %s\n", strerror(errno));
        return 1;
    }
    int n = 0;
    for (; n < 500; n++) {
        int client = socket(AF_INET, SOCK_STREAM, 0);
        if (client < 0 || connect(client, (struct sockaddr *)&addr, sizeof addr) != 0) {
            printf("connect %d: %s\n", n, strerror(errno));
            return 1;
        }
        int server = accept(listener, NULL, NULL);
        char byte = 'x';
        if (server < 0 || write(client, &byte, 1) != 1 || read(server, &byte, 1) != 1 ||
            write(server, &byte, 1) != 1 || read(client, &byte, 1) != 1) {
            printf("connection %d: %s\n", n, strerror(errno));
            return 1;
        }
    }
    printf("%d connections\n", n);
    return 0;
}
