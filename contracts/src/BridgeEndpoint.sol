// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TokenIO} from "./lib/TokenIO.sol";

/// @notice The token functions a minting endpoint uses.
interface IMintable {
    function mint(address to, uint256 amount) external;
    function isMinter(address account) external view returns (bool);
}

/// @title BridgeEndpoint
/// @notice The local bridge between Ballast's chains. `send` locks tokens on the
/// source chain and emits an event; `deliver` releases them on the destination
/// chain once the configured attester has signed the transfer.
/// @dev Invariants:
///  - A transfer id is sent at most once and delivered at most once per
///    endpoint: retries and replays are refused, never paid twice.
///  - A delivery is only valid with the attester's ECDSA signature (EIP-191
///    personal-sign over `attestationDigest`, low-s, 65 bytes). The digest binds
///    this endpoint's address and chain id, so an attestation for one chain or
///    endpoint cannot be replayed on another.
///  - Deliveries pay out of locked liquidity first; only the shortfall is
///    minted, and only if the token lets this endpoint mint.
///  - `send` is open to anyone, so anyone can take an unused transfer id.
///    `senderOf` records who did; the attester must only attest sends whose
///    sender is one of our pools, and a pool refuses an id already taken here
///    (`RiskPool.BridgeIdTaken`) rather than mistake it for its own.
contract BridgeEndpoint {
    using TokenIO for address;

    /// @dev secp256k1n / 2: signatures with a larger s are malleable twins.
    uint256 private constant HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    address public immutable token;
    address public immutable admin;
    address public attester;

    mapping(bytes32 transferId => address) public senderOf;
    mapping(bytes32 transferId => bool) public delivered;

    event BridgeSent(
        bytes32 indexed transferId, address indexed sender, uint256 dstChainId, bytes32 recipient, uint256 amount
    );
    event BridgeDelivered(bytes32 indexed transferId, uint256 srcChainId, address indexed recipient, uint256 amount);
    /// @notice How a delivery was funded: released from locked liquidity and newly minted.
    event LiquidityUsed(bytes32 indexed transferId, uint256 released, uint256 minted);
    event AttesterChanged(address indexed previousAttester, address indexed newAttester);

    error Unauthorized(address caller);
    error ZeroAmount();
    error ZeroAddress();
    error ZeroId();
    error TransferIdUsed(bytes32 transferId);
    error InvalidAttestation();
    error InsufficientLiquidity(uint256 requested, uint256 available);

    constructor(address token_, address admin_, address attester_) {
        if (token_ == address(0) || admin_ == address(0) || attester_ == address(0)) revert ZeroAddress();
        token = token_;
        admin = admin_;
        attester = attester_;
        emit AttesterChanged(address(0), attester_);
    }

    /// @notice Rotate the attester key. Never zero: ecrecover returns zero for garbage.
    function setAttester(address newAttester) external {
        if (msg.sender != admin) revert Unauthorized(msg.sender);
        if (newAttester == address(0)) revert ZeroAddress();
        emit AttesterChanged(attester, newAttester);
        attester = newAttester;
    }

    /// @notice Whether `transferId` has been sent from this endpoint (by anyone).
    function sent(bytes32 transferId) external view returns (bool) {
        return senderOf[transferId] != address(0);
    }

    /// @notice Tokens held here, available to pay deliveries.
    function lockedLiquidity() public view returns (uint256) {
        return token.balanceOf(address(this));
    }

    /// @notice Lock `amount` from the caller (who must have approved it) for `recipient` on `dstChainId`.
    /// @param recipient 32 bytes so non-EVM recipients (e.g. Solana accounts) fit.
    function send(bytes32 transferId, uint256 dstChainId, bytes32 recipient, uint256 amount) external {
        if (transferId == bytes32(0)) revert ZeroId();
        if (amount == 0) revert ZeroAmount();
        if (recipient == bytes32(0)) revert ZeroAddress();
        if (senderOf[transferId] != address(0)) revert TransferIdUsed(transferId);
        senderOf[transferId] = msg.sender;
        emit BridgeSent(transferId, msg.sender, dstChainId, recipient, amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice The hash the attester signs (before the EIP-191 prefix) for one delivery.
    function attestationDigest(bytes32 transferId, uint256 srcChainId, address recipient, uint256 amount)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(address(this), block.chainid, transferId, srcChainId, recipient, amount));
    }

    /// @notice Pay out an attested inbound transfer. Anyone may relay it; the signature is the authority.
    function deliver(bytes32 transferId, uint256 srcChainId, address recipient, uint256 amount, bytes calldata signature)
        external
    {
        if (amount == 0) revert ZeroAmount();
        if (recipient == address(0)) revert ZeroAddress();
        if (delivered[transferId]) revert TransferIdUsed(transferId);
        bytes32 digest = attestationDigest(transferId, srcChainId, recipient, amount);
        if (_recover(_toEthSigned(digest), signature) != attester) revert InvalidAttestation();
        delivered[transferId] = true;

        uint256 available = lockedLiquidity();
        uint256 released = amount < available ? amount : available;
        uint256 minted = amount - released;
        if (minted > 0 && !_canMint()) revert InsufficientLiquidity(amount, available);
        emit BridgeDelivered(transferId, srcChainId, recipient, amount);
        emit LiquidityUsed(transferId, released, minted);
        if (released > 0) token.safeTransfer(recipient, released);
        if (minted > 0) IMintable(token).mint(recipient, minted);
    }

    function _toEthSigned(bytes32 digest) private pure returns (bytes32) {
        return keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", digest));
    }

    /// @dev Returns address(0) for anything malformed; the caller compares against a non-zero attester.
    function _recover(bytes32 hash, bytes calldata signature) private pure returns (address) {
        if (signature.length != 65) return address(0);
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (v < 27) v += 27;
        if (v != 27 && v != 28) return address(0);
        if (uint256(s) > HALF_ORDER) return address(0);
        return ecrecover(hash, v, r, s);
    }

    /// @dev Asks the token whether this endpoint may mint; a token without the
    /// role query (or one that reverts) means "no".
    function _canMint() private view returns (bool) {
        (bool ok, bytes memory ret) = token.staticcall(abi.encodeCall(IMintable.isMinter, (address(this))));
        return ok && ret.length >= 32 && abi.decode(ret, (uint256)) == 1;
    }
}
