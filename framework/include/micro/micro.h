// Everything a service author needs: NewService and its options, errors, logging.
#pragma once

#include "micro/client/client.h"
#include "micro/errors.h"
#include "micro/log.h"
#include "micro/server/server.h"
#include "micro/service.h"
