// Bare metal: libcoap.h includes this unconditionally; lwIP has the types.
#pragma once
