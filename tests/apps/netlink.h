/* The Linux netlink and rtnetlink ABI the interface test needs (<linux/netlink.h> and
 * <linux/rtnetlink.h>, which musl does not ship): the structures and values, as Linux
 * defines them. */
#ifndef UVM_TEST_NETLINK_H
#define UVM_TEST_NETLINK_H

#include <stdint.h>
#include <sys/socket.h>

#define NETLINK_ROUTE 0
#define NETLINK_EXT_ACK 11

struct sockaddr_nl {
    unsigned short nl_family;
    unsigned short nl_pad;
    uint32_t nl_pid;
    uint32_t nl_groups;
};

struct nlmsghdr {
    uint32_t nlmsg_len;
    uint16_t nlmsg_type;
    uint16_t nlmsg_flags;
    uint32_t nlmsg_seq;
    uint32_t nlmsg_pid;
};

struct nlmsgerr {
    int error;
    struct nlmsghdr msg;
};

#define NLM_F_REQUEST 0x1
#define NLM_F_ACK 0x4
#define NLM_F_EXCL 0x200
#define NLM_F_CREATE 0x400
#define NLM_F_DUMP 0x300

#define NLMSG_ERROR 0x2
#define NLMSG_DONE 0x3

#define NLMSG_ALIGN(len) (((len) + 3u) & ~3u)
#define NLMSG_HDRLEN ((int)NLMSG_ALIGN(sizeof(struct nlmsghdr)))
#define NLMSG_LENGTH(len) ((len) + NLMSG_HDRLEN)
#define NLMSG_DATA(h) ((void *)((char *)(h) + NLMSG_HDRLEN))
#define NLMSG_OK(h, len)                                                                           \
    ((len) >= (int)sizeof(struct nlmsghdr) && (h)->nlmsg_len >= sizeof(struct nlmsghdr) &&         \
     (h)->nlmsg_len <= (unsigned)(len))
#define NLMSG_NEXT(h, len)                                                                         \
    ((len) -= NLMSG_ALIGN((h)->nlmsg_len), (struct nlmsghdr *)((char *)(h) + NLMSG_ALIGN((h)->nlmsg_len)))

#define RTM_NEWLINK 16
#define RTM_GETLINK 18
#define RTM_NEWADDR 20
#define RTM_NEWROUTE 24
#define RTM_GETROUTE 26
#define RTMGRP_LINK 1

struct rtattr {
    unsigned short rta_len;
    unsigned short rta_type;
};

#define RTA_ALIGN(len) (((len) + 3u) & ~3u)
#define RTA_OK(a, len) ((len) >= (int)sizeof(struct rtattr) && (a)->rta_len >= sizeof(struct rtattr) && (a)->rta_len <= (len))
#define RTA_NEXT(a, len) ((len) -= RTA_ALIGN((a)->rta_len), (struct rtattr *)((char *)(a) + RTA_ALIGN((a)->rta_len)))
#define RTA_DATA(a) ((void *)((char *)(a) + RTA_ALIGN(sizeof(struct rtattr))))

struct rtgenmsg {
    unsigned char rtgen_family;
};

struct ifinfomsg {
    unsigned char ifi_family;
    unsigned char ifi_pad;
    unsigned short ifi_type;
    int ifi_index;
    unsigned ifi_flags;
    unsigned ifi_change;
};

#define IFLA_IFNAME 3
#define IFLA_MTU 4
#define IFLA_RTA(i) ((struct rtattr *)((char *)(i) + NLMSG_ALIGN(sizeof(struct ifinfomsg))))
#define IFLA_PAYLOAD(h) ((int)((h)->nlmsg_len - NLMSG_LENGTH(sizeof(struct ifinfomsg))))

struct ifaddrmsg {
    unsigned char ifa_family;
    unsigned char ifa_prefixlen;
    unsigned char ifa_flags;
    unsigned char ifa_scope;
    unsigned ifa_index;
};

struct rtmsg {
    unsigned char rtm_family;
    unsigned char rtm_dst_len;
    unsigned char rtm_src_len;
    unsigned char rtm_tos;
    unsigned char rtm_table;
    unsigned char rtm_protocol;
    unsigned char rtm_scope;
    unsigned char rtm_type;
    unsigned rtm_flags;
};

#define RTA_DST 1
#define RTA_GATEWAY 5
#define RTM_RTA(r) ((struct rtattr *)((char *)(r) + NLMSG_ALIGN(sizeof(struct rtmsg))))
#define RTM_PAYLOAD(h) ((int)((h)->nlmsg_len - NLMSG_LENGTH(sizeof(struct rtmsg))))

#endif
