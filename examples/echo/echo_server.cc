// echo-server: ECHO_PROG served by ringrpc; the argument goes back unchanged. The argument is a
// view into the receive buffer and the reply is encoded straight from it: one copy, into the
// reply buffer.
#include "echo.h"
#include "examples/common/server_main.h"

namespace {

class Echo final : public echo::ECHO_VERS_Service {
 public:
  void ECHO(ringrpc::Call&, const std::span<const uint8_t>& in, echo::blob& out) override {
    out.assign(in.begin(), in.end());
  }
};

}  // namespace

int main(int argc, char** argv) {
  Echo echo;
  return ringrpc::examples::serve_main(argc, argv, "echo-server",
                                       "Serves ECHO_PROG (0x31230001) version 1.", {&echo});
}
