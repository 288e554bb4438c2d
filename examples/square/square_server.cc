// square-server: SQUARE_PROG served by ringrpc. See examples/README.md.
#include "examples/common/server_main.h"
#include "square.h"

namespace {

class Square final : public square::SQUARE_VERS_Service {
 public:
  void SQUAREPROC(ringrpc::Call&, const square::square_in& in, square::square_out& out) override {
    // `long` is 32 bits on the wire; the square wraps as it does in rpcgen's C server.
    out.res1 =
        static_cast<int32_t>(static_cast<uint32_t>(in.arg1) * static_cast<uint32_t>(in.arg1));
  }
};

}  // namespace

int main(int argc, char** argv) {
  Square square;
  return ringrpc::examples::serve_main(argc, argv, "square-server",
                                       "Serves SQUARE_PROG (0x31230000) version 1.", {&square});
}
