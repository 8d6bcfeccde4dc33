// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Operated} from "./lib/Operated.sol";
import {TokenIO} from "./lib/TokenIO.sol";

/// @title ReinsuranceVault
/// @notice An ERC-4626-style vault reinsurers deposit the settlement token into.
/// Risk pools cede exposure to it for a premium; the vault reserves capacity for
/// each cession and pays recoveries out of that reservation.
/// @dev Invariants:
///  - `reservedCapacity` equals the sum of `remaining` over open cessions, and is
///    never more than `totalAssets()`: redemptions may only take free capacity.
///  - A cession id is accepted once, ever; recoveries on it never exceed its
///    ceded amount.
///  - A recovery id is paid once, ever (`recoveryPaid`): a retried or replayed
///    recovery instruction can never pay twice.
///  - Share maths rounds in the vault's favour (down on deposit and redeem) and
///    counts `VIRTUAL_SHARES` shares and one asset unit that nobody owns. Shares
///    therefore start at 10^6 per asset unit, and a first depositor who donates
///    assets to inflate the share price loses about a million times what any
///    later depositor loses to rounding: the attack never pays.
///  - Shares are not transferable: a reinsurer's position is its own, and
///    `redeem` requires `owner == msg.sender`.
///  - Only cedents the admin approved (risk pools under a treaty) may cede:
///    otherwise anyone could reserve all capacity for a one-unit premium and
///    lock every reinsurer's capital in.
contract ReinsuranceVault is Operated {
    using TokenIO for address;

    struct Cession {
        address cedent;
        uint256 ceded;
        uint256 remaining;
        uint256 premium;
        bool open;
    }

    /// @notice Shares minted per asset unit while the vault is empty; the inflation-attack guard.
    uint256 public constant VIRTUAL_SHARES = 1e6;

    address private immutable _asset;

    uint256 public totalSupply;
    uint256 public reservedCapacity;
    mapping(address owner => uint256) public balanceOf;
    mapping(address cedent => bool) public isCedent;
    mapping(bytes32 cessionId => Cession) private _cessions;
    mapping(bytes32 recoveryId => bool) public recoveryPaid;

    /// @dev ERC-20 style share mint/burn events.
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Deposit(address indexed sender, address indexed owner, uint256 assets, uint256 shares);
    event Withdraw(
        address indexed sender, address indexed receiver, address indexed owner, uint256 assets, uint256 shares
    );
    event CedentSet(address indexed cedent, bool allowed);
    event CessionAccepted(bytes32 indexed cessionId, address indexed cedent, uint256 cededAmount, uint256 premium);
    event RecoveryPaid(bytes32 indexed recoveryId, bytes32 indexed cessionId, address indexed cedent, uint256 amount);
    event CessionReleased(bytes32 indexed cessionId, uint256 released);

    error NotCedent(address caller);
    error ZeroAmount();
    error ZeroId();
    error ZeroShares();
    error InsufficientShares(address owner, uint256 balance, uint256 needed);
    error InsufficientFreeCapacity(uint256 requested, uint256 free);
    error CessionOverCapacity(uint256 requested, uint256 free);
    error CessionExists(bytes32 cessionId);
    error CessionNotOpen(bytes32 cessionId);
    error RecoveryOverCap(bytes32 cessionId, uint256 requested, uint256 remaining);
    error RecoveryIdUsed(bytes32 recoveryId);

    constructor(address asset_, address admin_, address operator_) Operated(admin_, operator_) {
        if (asset_ == address(0)) revert ZeroAddress();
        _asset = asset_;
    }

    function asset() external view returns (address) {
        return _asset;
    }

    function totalAssets() public view returns (uint256) {
        return _asset.balanceOf(address(this));
    }

    /// @notice Assets not reserved for open cessions: what cessions and redemptions may use.
    function freeCapacity() public view returns (uint256) {
        uint256 total = totalAssets();
        return total > reservedCapacity ? total - reservedCapacity : 0;
    }

    function convertToShares(uint256 assets) public view returns (uint256) {
        return assets * (totalSupply + VIRTUAL_SHARES) / (totalAssets() + 1);
    }

    function convertToAssets(uint256 shares) public view returns (uint256) {
        return shares * (totalAssets() + 1) / (totalSupply + VIRTUAL_SHARES);
    }

    function previewDeposit(uint256 assets) external view returns (uint256) {
        return convertToShares(assets);
    }

    function previewRedeem(uint256 shares) external view returns (uint256) {
        return convertToAssets(shares);
    }

    /// @notice Most shares `owner` can redeem now, given capacity reserved for cessions.
    function maxRedeem(address owner) external view returns (uint256) {
        uint256 owned = balanceOf[owner];
        uint256 free = freeCapacity();
        if (convertToAssets(owned) <= free) return owned;
        uint256 shares = convertToShares(free);
        // convertToShares rounds down, so these shares never redeem above `free`.
        return shares < owned ? shares : owned;
    }

    /// @notice A cession's accounting: cedent, ceded amount, remaining cover, premium, open.
    function cessionOf(bytes32 cessionId)
        external
        view
        returns (address cedent, uint256 ceded, uint256 remaining, uint256 premium, bool open)
    {
        Cession storage c = _cessions[cessionId];
        return (c.cedent, c.ceded, c.remaining, c.premium, c.open);
    }

    /// @notice Allow or stop `cedent` (a risk pool) ceding exposure to this vault.
    function setCedent(address cedent, bool allowed) external onlyAdmin {
        if (cedent == address(0)) revert ZeroAddress();
        isCedent[cedent] = allowed;
        emit CedentSet(cedent, allowed);
    }

    // ------------------------------------------------------------ ERC-4626

    function deposit(uint256 assets, address receiver) external returns (uint256 shares) {
        if (assets == 0) revert ZeroAmount();
        if (receiver == address(0)) revert ZeroAddress();
        shares = convertToShares(assets);
        if (shares == 0) revert ZeroShares();
        totalSupply += shares;
        balanceOf[receiver] += shares;
        emit Transfer(address(0), receiver, shares);
        emit Deposit(msg.sender, receiver, assets, shares);
        _asset.safeTransferFrom(msg.sender, address(this), assets);
    }

    function redeem(uint256 shares, address receiver, address owner) external returns (uint256 assets) {
        if (owner != msg.sender) revert Unauthorized(msg.sender);
        if (shares == 0) revert ZeroAmount();
        if (receiver == address(0)) revert ZeroAddress();
        uint256 owned = balanceOf[owner];
        if (owned < shares) revert InsufficientShares(owner, owned, shares);
        assets = convertToAssets(shares);
        if (assets == 0) revert ZeroAmount();
        uint256 free = freeCapacity();
        if (assets > free) revert InsufficientFreeCapacity(assets, free);
        balanceOf[owner] = owned - shares;
        totalSupply -= shares;
        emit Transfer(owner, address(0), shares);
        emit Withdraw(msg.sender, receiver, owner, assets, shares);
        _asset.safeTransfer(receiver, assets);
    }

    // ------------------------------------------------------------ cessions

    /// @notice Take on `cededAmount` of a cedent's exposure for `premium`, pulled from the caller.
    /// @dev Capacity is judged before the premium arrives, so a cedent can rely on
    /// `freeCapacity()` as it read it.
    function acceptCession(bytes32 cessionId, uint256 cededAmount, uint256 premium) external {
        if (!isCedent[msg.sender]) revert NotCedent(msg.sender);
        if (cessionId == bytes32(0)) revert ZeroId();
        if (cededAmount == 0 || premium == 0) revert ZeroAmount();
        Cession storage c = _cessions[cessionId];
        if (c.cedent != address(0)) revert CessionExists(cessionId);
        uint256 free = freeCapacity();
        if (cededAmount > free) revert CessionOverCapacity(cededAmount, free);
        c.cedent = msg.sender;
        c.ceded = cededAmount;
        c.remaining = cededAmount;
        c.premium = premium;
        c.open = true;
        reservedCapacity += cededAmount;
        emit CessionAccepted(cessionId, msg.sender, cededAmount, premium);
        _asset.safeTransferFrom(msg.sender, address(this), premium);
    }

    /// @notice Pay the cedent a recovery out of the cession's reserved capacity,
    /// under a recovery id that can never be paid twice.
    function payRecovery(bytes32 recoveryId, bytes32 cessionId, uint256 amount) external onlyOperator {
        if (recoveryId == bytes32(0)) revert ZeroId();
        if (amount == 0) revert ZeroAmount();
        if (recoveryPaid[recoveryId]) revert RecoveryIdUsed(recoveryId);
        Cession storage c = _cessions[cessionId];
        if (!c.open) revert CessionNotOpen(cessionId);
        if (amount > c.remaining) revert RecoveryOverCap(cessionId, amount, c.remaining);
        recoveryPaid[recoveryId] = true;
        c.remaining -= amount;
        reservedCapacity -= amount;
        emit RecoveryPaid(recoveryId, cessionId, c.cedent, amount);
        _asset.safeTransfer(c.cedent, amount);
    }

    /// @notice End a cession (expiry or commutation), freeing what it still reserved.
    function releaseCession(bytes32 cessionId) external onlyOperator {
        Cession storage c = _cessions[cessionId];
        if (!c.open) revert CessionNotOpen(cessionId);
        uint256 released = c.remaining;
        c.remaining = 0;
        c.open = false;
        reservedCapacity -= released;
        emit CessionReleased(cessionId, released);
    }
}
