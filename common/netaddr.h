#ifndef MOCHI_NETADDR_H
#define MOCHI_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* CIDR lists for MOCHI_TRUSTED_PROXIES and address helpers. */

struct mochi_cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix;
};

struct mochi_cidr_list {
    struct mochi_cidr *items; /* owned */
    size_t count;
};

/* Parses "10.0.0.0/8, 192.168.1.1, ::1/128". An empty text gives an empty
 * list. Returns 0, or MOCHI_ERR_INVALID with the bad entry named in err. On
 * success the caller owns list->items (mochi_cidr_list_free). */
int mochi_cidr_list_parse(const char *text, struct mochi_cidr_list *list, char *err, size_t errlen)
    __attribute__((warn_unused_result));

void mochi_cidr_list_free(struct mochi_cidr_list *list);

/* True when the address (AF_INET or AF_INET6 binary form, IPv4-mapped IPv6
 * treated as IPv4) lies in one of the list's ranges. */
bool mochi_cidr_list_contains(const struct mochi_cidr_list *list, int family, const void *addr);

/* The address of an AF_INET or AF_INET6 socket address as family and
 * binary form (IPv4-mapped IPv6 as IPv4, 4 bytes used). Returns 0 or
 * MOCHI_ERR_INVALID for another family or NULL. */
int mochi_sockaddr_binary(const struct sockaddr *sa, int *family, unsigned char addr[16])
    __attribute__((warn_unused_result));

/* The client address from the peer and the X-Forwarded-For values (n of
 * them, in the order received), believed right to left while the address
 * at hand is in trusted (an empty list trusts nothing); an entry that is
 * not an address ends the walk, keeping the last address believed. The
 * collector and mochi-web both take the client from here. Returns 0 or
 * MOCHI_ERR_INVALID (a peer that is not IP). */
int mochi_forwarded_client(const struct sockaddr *peer, const char *const *xff, size_t n,
                           const struct mochi_cidr_list *trusted, int *family,
                           unsigned char addr[16]) __attribute__((warn_unused_result));

/* Parses a numeric IPv4 or IPv6 address text into family and addr[16].
 * Returns 0 or MOCHI_ERR_INVALID. */
int mochi_addr_parse(const char *text, int *family, unsigned char addr[16])
    __attribute__((warn_unused_result));

/* Formats a sockaddr's address (no port) as text into buf, IPv4-mapped IPv6
 * as IPv4. Returns 0 or MOCHI_ERR_INVALID. */
int mochi_addr_format(const struct sockaddr *sa, char *buf, size_t size)
    __attribute__((warn_unused_result));

/* Splits "host:port" or "[v6]:port" into host (without brackets) and port.
 * Returns 0 or MOCHI_ERR_INVALID. */
int mochi_split_host_port(const char *text, char *host, size_t host_size, int *port)
    __attribute__((warn_unused_result));

#endif
