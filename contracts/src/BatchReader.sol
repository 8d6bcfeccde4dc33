// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice The views `poolStates` reads (a RiskPool's, and its asset's `balanceOf`).
interface IPoolView {
    function asset() external view returns (address);
    function lockedCapital() external view returns (uint256);
    function balanceOf(address account) external view returns (uint256);
}

/// @title BatchReader
/// @notice Reads many values at one block in a single `eth_call`: a
/// Multicall3-style `aggregate3`, plus two specialised readers that are cheaper
/// to call and to decode for Ballast's hot path (pool balances).
/// @dev Stateless. The specialised readers never revert on a bad target: an
/// address with no code, or that does not answer like a pool/token, yields
/// zeros, so one stray address cannot hide every other pool's balance. Every
/// sub-call is a `staticcall` with a gas cap and copies at most one word of
/// return data, so a hostile target cannot eat the caller's gas or memory.
contract BatchReader {
    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    /// @notice Gas each sub-call of the specialised readers may use.
    uint256 public constant SUBCALL_GAS = 100_000;

    bytes4 private constant ASSET = IPoolView.asset.selector;
    bytes4 private constant LOCKED_CAPITAL = IPoolView.lockedCapital.selector;
    bytes4 private constant BALANCE_OF = IPoolView.balanceOf.selector;

    /// @notice A call with `allowFailure == false` failed.
    error CallFailed(uint256 index);

    /// @notice Run each call in order; failures are reported per call unless not allowed.
    function aggregate3(Call3[] calldata calls) external returns (Result[] memory returnData) {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            Call3 calldata c = calls[i];
            (bool ok, bytes memory ret) = c.target.call(c.callData);
            if (!ok && !c.allowFailure) revert CallFailed(i);
            returnData[i] = Result(ok, ret);
        }
    }

    function getBlockNumber() external view returns (uint256) {
        return block.number;
    }

    function getChainId() external view returns (uint256) {
        return block.chainid;
    }

    /// @notice `token.balanceOf(holder)` for each holder; 0 where the token does not answer.
    function balancesOf(address token, address[] calldata holders) external view returns (uint256[] memory balances) {
        balances = new uint256[](holders.length);
        for (uint256 i = 0; i < holders.length; ++i) {
            (, balances[i]) = _word(token, BALANCE_OF, holders[i], true);
        }
    }

    /// @notice For each pool: its asset, its asset balance and its locked capital.
    /// @dev An entry is all zeros unless the address has code, answers `asset()`
    /// with a well-formed address and `lockedCapital()` with a word, and the asset
    /// answers `balanceOf(pool)`. Callers compare `assets[i]` with the settlement
    /// token they expect to tell "not a pool" from "a pool of another asset".
    function poolStates(address[] calldata pools)
        external
        view
        returns (address[] memory assets, uint256[] memory balances, uint256[] memory locked)
    {
        uint256 n = pools.length;
        assets = new address[](n);
        balances = new uint256[](n);
        locked = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            address pool = pools[i];
            (bool ok, uint256 assetWord) = _word(pool, ASSET, address(0), false);
            if (!ok || assetWord >> 160 != 0 || assetWord == 0) continue;
            uint256 lockedWord;
            (ok, lockedWord) = _word(pool, LOCKED_CAPITAL, address(0), false);
            if (!ok) continue;
            address asset = address(uint160(assetWord));
            uint256 balance;
            (ok, balance) = _word(asset, BALANCE_OF, pool, true);
            if (!ok) continue;
            assets[i] = asset;
            balances[i] = balance;
            locked[i] = lockedWord;
        }
    }

    /// @dev staticcall `target.selector([arg])`; ok only if it succeeded and
    /// returned at least one word. A target without code returns no data, so
    /// it is "not ok" without a separate code-size check.
    function _word(address target, bytes4 selector, address arg, bool withArg)
        private
        view
        returns (bool ok, uint256 word)
    {
        uint256 gasCap = SUBCALL_GAS;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, selector)
            mstore(add(ptr, 4), arg)
            let len := 4
            if withArg { len := 36 }
            ok := staticcall(gasCap, target, ptr, len, 0x00, 0x20)
            ok := and(ok, iszero(lt(returndatasize(), 0x20)))
            word := mul(ok, mload(0x00))
        }
    }
}
