/* The VM's network interfaces as an app asks for them: getifaddrs (glibc and musl build it on
 * rtnetlink dumps), if_nameindex, the interface ioctls, and raw NETLINK_ROUTE requests with their error and
 * acknowledgement messages, port ids, truncation and options.
 * Used by net.rs (`interfaces_are_listed_as_on_linux`). The expected output is what Linux
 * prints in a network namespace set up like the VM (lo, and eth0 at 10.0.2.15/24 with the
 * VM's hardware address and no IPv6): the test's doc comment says how to check that. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "netlink.h"

static const char *family_name(int family) {
    switch (family) {
    case AF_INET: return "inet";
    case AF_INET6: return "inet6";
    case AF_PACKET: return "packet";
    }
    return "?";
}

/* An address of getifaddrs as text ("-" for none). */
static const char *text(const struct sockaddr *sa, char *buf, size_t size) {
    if (!sa)
        return "-";
    if (sa->sa_family == AF_INET)
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, size);
    if (sa->sa_family == AF_INET6)
        return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, size);
    if (sa->sa_family == AF_PACKET) {
        const struct sockaddr_ll *ll = (const struct sockaddr_ll *)sa;
        size_t at = 0;
        for (int i = 0; i < ll->sll_halen && at + 4 < size; i++)
            at += snprintf(buf + at, size - at, "%s%02x", i ? ":" : "", ll->sll_addr[i]);
        buf[at] = 0;
        return buf;
    }
    return "?";
}

static void list_ifaddrs(void) {
    struct ifaddrs *all;
    if (getifaddrs(&all) != 0) {
        printf("getifaddrs: %s\n", errname(errno));
        return;
    }
    for (struct ifaddrs *i = all; i; i = i->ifa_next) {
        char a[64], m[64], b[64];
        int family = i->ifa_addr ? i->ifa_addr->sa_family : -1;
        /* The broadcast address only means one with IFF_BROADCAST. */
        const struct sockaddr *brd = (i->ifa_flags & IFF_BROADCAST) ? i->ifa_broadaddr : NULL;
        printf("ifaddr %s %s addr=%s mask=%s brd=%s flags=%#x\n", i->ifa_name, family_name(family),
               text(i->ifa_addr, a, sizeof a), text(i->ifa_netmask, m, sizeof m), text(brd, b, sizeof b),
               i->ifa_flags);
    }
    freeifaddrs(all);
}

static void list_nameindex(void) {
    struct if_nameindex *all = if_nameindex();
    if (!all) {
        printf("if_nameindex: %s\n", errname(errno));
        return;
    }
    for (struct if_nameindex *i = all; i->if_index; i++)
        printf("if_nameindex %u %s\n", i->if_index, i->if_name);
    if_freenameindex(all);
}

/* The interface ioctls on an IPv4 socket (and one on an AF_UNIX socket, which Linux answers
 * too), as ifconfig and if_nametoindex use them. */
static void interface_ioctls(void) {
    char name[IF_NAMESIZE];
    printf("if_nametoindex eth0 %u, if_indextoname 1 %s\n", if_nametoindex("eth0"),
           if_indextoname(1, name) ? name : errname(errno));
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq req[4];
    struct ifconf conf = {.ifc_len = sizeof req, .ifc_req = req};
    if (ioctl(fd, SIOCGIFCONF, &conf) != 0)
        printf("SIOCGIFCONF: %s\n", errname(errno));
    for (int i = 0; i < conf.ifc_len / (int)sizeof req[0]; i++) {
        char a[64];
        printf("ifconf %s %s\n", req[i].ifr_name, text(&req[i].ifr_addr, a, sizeof a));
    }
    struct ifreq r;
    memset(&r, 0, sizeof r);
    strcpy(r.ifr_name, "eth0");
    char a[64];
    if (ioctl(fd, SIOCGIFNETMASK, &r) == 0)
        printf("eth0 netmask %s", text(&r.ifr_netmask, a, sizeof a));
    if (ioctl(fd, SIOCGIFBRDADDR, &r) == 0)
        printf(" broadcast %s", text(&r.ifr_broadaddr, a, sizeof a));
    if (ioctl(fd, SIOCGIFMTU, &r) == 0)
        printf(" mtu %d", r.ifr_mtu);
    if (ioctl(fd, SIOCGIFFLAGS, &r) == 0)
        printf(" flags %#x", (unsigned short)r.ifr_flags);
    if (ioctl(fd, SIOCGIFTXQLEN, &r) == 0)
        printf(" qlen %d", r.ifr_qlen);
    if (ioctl(fd, SIOCGIFHWADDR, &r) == 0) {
        unsigned char *hw = (unsigned char *)r.ifr_hwaddr.sa_data;
        printf(" hw %d %02x:%02x:%02x:%02x:%02x:%02x", r.ifr_hwaddr.sa_family, hw[0], hw[1], hw[2], hw[3], hw[4], hw[5]);
    }
    printf("\n");
    r.ifr_mtu = 9000;
    printf("SIOCSIFMTU: %s\n", ioctl(fd, SIOCSIFMTU, &r) == 0 ? "OK" : errname(errno));
    strcpy(r.ifr_name, "eth9");
    printf("SIOCGIFFLAGS eth9: %s\n", ioctl(fd, SIOCGIFFLAGS, &r) == 0 ? "OK" : errname(errno));
    close(fd);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    strcpy(r.ifr_name, "lo");
    int got = ioctl(fd, SIOCGIFINDEX, &r);
    printf("SIOCGIFINDEX lo on AF_UNIX: %s %d\n", got == 0 ? "OK" : errname(errno), r.ifr_ifindex);
    close(fd);
}

static int open_route(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        printf("socket: %s\n", errname(errno));
    return fd;
}

/* Sends one request of `type`/`flags` with `payload` to the kernel. */
static void request(int fd, int type, int flags, unsigned seq, const void *payload, size_t len) {
    struct {
        struct nlmsghdr h;
        char payload[64];
    } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = NLMSG_LENGTH(len);
    req.h.nlmsg_type = type;
    req.h.nlmsg_flags = flags;
    req.h.nlmsg_seq = seq;
    memcpy(req.payload, payload, len);
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
        printf("sendto: %s\n", errname(errno));
}

/* Prints one message of an answer (see show_answer). */
static void show_message(struct nlmsghdr *h, unsigned port) {
    printf("  type=%d flags=%#x seq=%u to_us=%d", h->nlmsg_type, h->nlmsg_flags, h->nlmsg_seq, h->nlmsg_pid == port);
    if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = NLMSG_DATA(h);
        printf(" error=%s echoed_type=%d len=%u", e->error ? errname(-e->error) : "OK", e->msg.nlmsg_type,
               h->nlmsg_len);
    } else if (h->nlmsg_type == RTM_NEWLINK) {
        struct ifinfomsg *ifi = NLMSG_DATA(h);
        unsigned mtu = 0;
        const char *name = "?";
        int len = IFLA_PAYLOAD(h);
        for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
            if (a->rta_type == IFLA_IFNAME)
                name = RTA_DATA(a);
            if (a->rta_type == IFLA_MTU)
                mtu = *(unsigned *)RTA_DATA(a);
        }
        printf(" link %d %s mtu %u", ifi->ifi_index, name, mtu);
    } else if (h->nlmsg_type == RTM_NEWROUTE) {
        struct rtmsg *rt = NLMSG_DATA(h);
        char dst[64] = "default", gw[64] = "-";
        int len = RTM_PAYLOAD(h);
        for (struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
            if (a->rta_type == RTA_DST)
                inet_ntop(rt->rtm_family, RTA_DATA(a), dst, sizeof dst);
            if (a->rta_type == RTA_GATEWAY)
                inet_ntop(rt->rtm_family, RTA_DATA(a), gw, sizeof gw);
        }
        printf(" route table=%d type=%d %s/%d via %s scope=%d", rt->rtm_table, rt->rtm_type, dst, rt->rtm_dst_len, gw,
               rt->rtm_scope);
    }
    printf("\n");
}

/* Receives what the kernel queued (until a non-blocking receive finds nothing: Linux
 * queues a dump's next part as the reader reads the last) and prints each message, whatever
 * datagrams they came in. */
static void show_answer(int fd, unsigned port) {
    char buf[8192];
    int from_kernel = 1, count = 0;
    for (;;) {
        struct sockaddr_nl from;
        socklen_t from_len = sizeof from;
        int n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
        if (n < 0) {
            if (errno != EAGAIN)
                printf("  recv: %s\n", errname(errno));
            break;
        }
        from_kernel &= from.nl_pid == 0 && from_len == sizeof from && from.nl_family == AF_NETLINK;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n), count++)
            show_message(h, port);
    }
    printf("  %d messages, from the kernel: %d\n", count, from_kernel);
}

static unsigned port_of(int fd) {
    struct sockaddr_nl self;
    socklen_t len = sizeof self;
    if (getsockname(fd, (struct sockaddr *)&self, &len) != 0) {
        printf("getsockname: %s\n", errname(errno));
        return 0;
    }
    return self.nl_pid;
}

static void raw_requests(void) {
    int fd = open_route();
    if (fd < 0)
        return;
    struct sockaddr_nl self = {.nl_family = AF_NETLINK};
    if (bind(fd, (struct sockaddr *)&self, sizeof self) != 0)
        printf("bind: %s\n", errname(errno));
    unsigned port = port_of(fd);
    printf("bound to the process id: %d\n", port == (unsigned)getpid());

    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = 2};
    printf("link 2 with an ack:\n");
    request(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 10, &ifi, sizeof ifi);
    show_answer(fd, port);
    printf("link 99:\n");
    ifi.ifi_index = 99;
    request(fd, RTM_GETLINK, NLM_F_REQUEST, 11, &ifi, sizeof ifi);
    show_answer(fd, port);
    printf("a new address:\n");
    struct ifaddrmsg ifa = {.ifa_family = AF_INET, .ifa_prefixlen = 24, .ifa_index = 2};
    request(fd, RTM_NEWADDR, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, 12, &ifa, sizeof ifa);
    show_answer(fd, port);
    printf("IPv4 routes:\n");
    struct rtmsg rt = {.rtm_family = AF_INET};
    request(fd, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, 13, &rt, sizeof rt);
    show_answer(fd, port);
    printf("not a request:\n");
    request(fd, RTM_GETLINK, NLM_F_ACK, 14, &ifi, sizeof ifi);
    show_answer(fd, port);

    /* A dump into a buffer too small: MSG_PEEK|MSG_TRUNC tells the size, MSG_TRUNC cuts. */
    struct rtgenmsg gen = {.rtgen_family = AF_UNSPEC};
    request(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 15, &gen, sizeof gen);
    char small[20];
    ssize_t whole = recv(fd, small, sizeof small, MSG_PEEK | MSG_TRUNC);
    struct iovec iov = {small, sizeof small};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t cut = recvmsg(fd, &msg, 0);
    printf("peeked length fits a link: %d; cut to %zd, MSG_TRUNC %d\n", whole > 100, cut,
           !!(msg.msg_flags & MSG_TRUNC));
    while (recv(fd, small, sizeof small, MSG_DONTWAIT) >= 0)
        ;

    /* Options. */
    int one = 1, value = -1;
    socklen_t len = sizeof value;
    printf("NETLINK_EXT_ACK: %s\n",
           setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one) == 0 ? "OK" : errname(errno));
    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &value, &len);
    printf("SO_PROTOCOL %d", value);
    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &value, &len);
    printf(" SO_DOMAIN %d", value);
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &len);
    printf(" SO_TYPE %d\n", value);

    /* A second socket: an automatic port past the process id's; sending to it, or to a
     * group, takes CAP_NET_ADMIN. */
    int other = open_route();
    if (bind(other, (struct sockaddr *)&self, sizeof self) != 0)
        printf("bind: %s\n", errname(errno));
    printf("second port is negative: %d\n", (int)port_of(other) < 0);
    struct sockaddr_nl to = {.nl_family = AF_NETLINK, .nl_pid = port};
    printf("sending to a port: %s\n", sendto(other, "x", 1, 0, (struct sockaddr *)&to, sizeof to) == 1 ? "OK" : errname(errno));
    struct sockaddr_nl group = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
    printf("sending to a group: %s\n",
           sendto(other, "x", 1, 0, (struct sockaddr *)&group, sizeof group) == 1 ? "OK" : errname(errno));
    int third = open_route();
    struct sockaddr_nl taken = {.nl_family = AF_NETLINK, .nl_pid = port};
    printf("binding a taken port: %s\n",
           bind(third, (struct sockaddr *)&taken, sizeof taken) == 0 ? "OK" : errname(errno));
    printf("joining a group: %s\n",
           bind(third, (struct sockaddr *)&group, sizeof group) == 0 ? "OK" : errname(errno));
    struct sockaddr_nl name;
    socklen_t name_len = sizeof name;
    getsockname(third, (struct sockaddr *)&name, &name_len);
    printf("bound: groups %#x, an automatic port: %d\n", name.nl_groups, name.nl_pid != 0 && name.nl_pid != port);
    printf("binding a bound socket to port 0: %s\n",
           bind(third, (struct sockaddr *)&self, sizeof self) == 0 ? "OK" : errname(errno));
    printf("listen: %s\n", listen(fd, 1) == 0 ? "OK" : errname(errno));
    static char huge[300000];
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    printf("a datagram past SO_SNDBUF: %s\n",
           sendto(fd, huge, sizeof huge, 0, (struct sockaddr *)&kernel, sizeof kernel) >= 0 ? "sent" : errname(errno));
    close(third);
    close(other);
    close(fd);
}

int main(void) {
    list_ifaddrs();
    list_nameindex();
    interface_ioctls();
    raw_requests();
    return 0;
}
