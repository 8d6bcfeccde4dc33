// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice The ERC-20 subset Ballast contracts call.
interface IERC20Minimal {
    function balanceOf(address account) external view returns (uint256);
    function allowance(address owner, address spender) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function approve(address spender, uint256 amount) external returns (bool);
}

/// @title TokenIO
/// @notice Token calls that work with tokens that return `false`, return nothing
/// (USDT-style) or revert. A token's own revert data is bubbled up unchanged so an
/// off-chain caller still sees e.g. `InsufficientBalance(...)` from the token.
library TokenIO {
    /// @notice The token refused a call without a reason, returned `false`, or is not a contract.
    error TokenCallFailed(address token);

    function safeTransfer(address token, address to, uint256 amount) internal {
        _call(token, abi.encodeCall(IERC20Minimal.transfer, (to, amount)));
    }

    function safeTransferFrom(address token, address from, address to, uint256 amount) internal {
        _call(token, abi.encodeCall(IERC20Minimal.transferFrom, (from, to, amount)));
    }

    function safeApprove(address token, address spender, uint256 amount) internal {
        _call(token, abi.encodeCall(IERC20Minimal.approve, (spender, amount)));
    }

    function balanceOf(address token, address account) internal view returns (uint256) {
        return IERC20Minimal(token).balanceOf(account);
    }

    function allowanceOf(address token, address owner, address spender) internal view returns (uint256) {
        return IERC20Minimal(token).allowance(owner, spender);
    }

    function _call(address token, bytes memory data) private {
        (bool ok, bytes memory ret) = token.call(data);
        if (!ok) {
            if (ret.length > 0) {
                assembly ("memory-safe") {
                    revert(add(ret, 32), mload(ret))
                }
            }
            revert TokenCallFailed(token);
        }
        if (ret.length == 0) {
            // A call to an address without code "succeeds" with no data.
            if (token.code.length == 0) revert TokenCallFailed(token);
        } else if (ret.length < 32 || !abi.decode(ret, (bool))) {
            revert TokenCallFailed(token);
        }
    }
}
